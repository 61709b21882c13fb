# The plan of this build: dataset x profile (x pack override), resolved and validated from params/ before any
# job starts. Every rule's paths and command line come from it (`params: cmd=`), as do dvc.yaml's stages.
import re

from ganrepro.workflow.packs import job_resources, pack_resources
from ganrepro.workflow.plan import Plan

PLAN = Plan(config["dataset"], config["profile"], config["data_dir"], config.get("mirror") or None,
            config.get("pack") or None)
PLAN.validate()
PROFILE = PLAN.profile
# The plan's paths with wildcards in place of a table, row and seed: the rules name files as the plan does.
T, R, S = "{table}", "{row}", "{seed}"
# What a training job of one run asks of the executor (SLURM: --gpus, --time, --mem); a pack's job asks
# pack_resources(PLAN, pack) (ganrepro.workflow.packs: more memory per member on a GPU, N times on a CPU).
TRAINING = job_resources(PROFILE)


wildcard_constraints:
    table="|".join(PLAN.tables),
    row=r"[A-Za-z0-9_]+",
    seed=r"\d+",
    size=r"\d+",


localrules:
    track_parent,
    track_run,
    report,
    latest_report,
