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
            dataset=PLAN.dataset,
            data_dir=lambda wc, output: data_dir_of(output[0]),
            mirror=f"--mirror {PLAN.mirror}" if PLAN.mirror else "",
        shell:
            "ganrepro --log {log} download {params.dataset} --data-dir {params.data_dir} {params.mirror}"


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
        dataset=PLAN.dataset,
        data_dir=lambda wc, output: data_dir_of(output[0]),
    shell:
        "ganrepro --log {log} prepare {params.dataset} --data-dir {params.data_dir}"
