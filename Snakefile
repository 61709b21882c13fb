"""The ablation tables as one DAG: download -> prepare -> segmenter -> train (row x seed) -> evaluate -> report.

    snakemake --cores 8 reports/pix2pix_ablation.md                      # facades, paper profile
    snakemake --cores 2 reports/pix2pix_ablation.md --config dataset=synthetic profile=quick

Every rule is one `ganrepro` command with declared inputs and outputs; what runs comes from params/
(tables, profiles, datasets) through ganrepro.workflow.plan, which also generates dvc.yaml. Every output is a
build product (git-ignored); no rule reads or writes the published reports in reports/published/.
"""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "pipeline/config.yaml"


validate(config, "pipeline/schemas/config.schema.yaml")


include: "pipeline/common.smk"
include: "pipeline/data.smk"
include: "pipeline/train.smk"
include: "pipeline/evaluate.smk"
include: "pipeline/released.smk"
include: "pipeline/track.smk"
include: "pipeline/report.smk"


rule all:
    default_target: True
    input:
        [PLAN.report(table) for table in PLAN.tables],
