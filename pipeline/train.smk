# One training run per table row x seed; the row's overrides, the profile's scale and the seed are all on the
# command line (see the `-p` output). Re-running an interrupted job resumes it from checkpoints/latest.pt.


rule train:
    input:
        PLAN.manifest,
    output:
        "results/{dataset}/{profile}/{table}/{row}/seed{seed}/checkpoints/final.pt",
    log:
        "results/{dataset}/{profile}/logs/{table}/{row}/seed{seed}/train.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        base=lambda wc: PLAN.table(wc.table).row_base_config(wc.row),
        sets=lambda wc: PLAN.set_arguments(wc.table, wc.row, int(wc.seed)),
        run_dir=lambda wc: PLAN.run_dir(wc.table, wc.row, int(wc.seed)),
        device=PROFILE.device,
    threads: PROFILE.threads
    resources:
        gpu=PROFILE.gpus_per_job,
        runtime=PROFILE.runtime_min,
        mem_mb=PROFILE.mem_mb,
    shell:
        "ganrepro --log {log} train --config {params.base} {params.sets}"
        " --device {params.device} --no-progress --out {params.run_dir}"
