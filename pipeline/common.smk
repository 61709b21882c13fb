# The plan of this build: dataset x profile, resolved and validated from params/ before any job starts.
from pathlib import Path

from ganrepro.pipeline.plan import Plan

PLAN = Plan(config["dataset"], config["profile"], config["data_dir"], config.get("mirror") or None)
PLAN.validate()
PROFILE = PLAN.profile


wildcard_constraints:
    dataset=PLAN.dataset,
    profile=PLAN.profile_name,
    table="|".join(PLAN.tables),
    row=r"[A-Za-z0-9_]+",
    seed=r"\d+",
    arch=r"[A-Za-z0-9_]+",
    size=r"\d+",


localrules:
    track_parent,
    track_run,
    report,
    latest_report,


def data_dir_of(path):
    """The data folder holding DATA_DIR/{dataset}/{raw,prepared}/FILE."""
    return str(Path(path).parents[2])
