# Data: fetch the registry's archives (verified, extracted), then prepare them for training and scoring.
# The generated `synthetic` dataset has no archives: `prepare` makes it.

if PLAN.archives:

    rule download:
        output:
            PLAN.archives,
        log:
            PLAN.log("download", PLAN.dataset),
        conda:
            "envs/ganrepro.yaml"
        params:
            cmd=PLAN.download_command(),
        shell:
            "{params.cmd}"


rule prepare:
    input:
        PLAN.archives,
    output:
        PLAN.manifest,
    log:
        PLAN.log("prepare", PLAN.dataset),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=PLAN.prepare_command(),
    shell:
        "{params.cmd}"
