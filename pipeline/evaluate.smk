# The FCN-score's scorer (trained once per dataset, profile and resolution), then each run's test-split
# evaluation: generated PNGs and metrics.json, the source of truth for the reports.


rule segmenter:
    input:
        PLAN.manifest,
    output:
        PLAN.segmenter_checkpoint("{size}"),
    log:
        PLAN.log("segmenter", f"{PROFILE.segmenter_arch}-{{size}}"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.segmenter_command(int(wc.size)),
    threads: PROFILE.threads
    resources:
        gpu=PROFILE.gpus_per_job,
    shell:
        "{params.cmd}"


rule evaluate:
    input:
        checkpoint=PLAN.final_checkpoint(T, R, S),
        segmenter=lambda wc: PLAN.run_segmenters(wc.table, wc.row, int(wc.seed)),
    output:
        PLAN.metrics_json(T, R, S),
    log:
        PLAN.log(T, R, f"seed{S}", "evaluate"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.evaluate_command(wc.table, wc.row, int(wc.seed)),
    threads: PROFILE.threads
    resources:
        gpu=PROFILE.gpus_per_job,
    shell:
        "{params.cmd}"
