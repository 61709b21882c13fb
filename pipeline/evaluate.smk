# The FCN-score's scorer (trained once per dataset, profile and resolution), then each run's test-split
# evaluation: generated PNGs and metrics.json, the source of truth for the reports.


rule segmenter:
    input:
        PLAN.manifest,
    output:
        "results/{dataset}/{profile}/segmenter/{arch}-{size}/segmenter.pt",
    log:
        "results/{dataset}/{profile}/logs/segmenter/{arch}-{size}.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        dataset=PLAN.dataset,
        data_dir=lambda wc, input: data_dir_of(input[0]),
        epochs=PROFILE.segmenter_epochs,
        fcn=" ".join(PLAN.fcn_arguments(training=True)),
        device=PROFILE.device,
        out="results/{dataset}/{profile}/segmenter/{arch}-{size}",
    threads: PROFILE.threads
    resources:
        gpu=PROFILE.gpus_per_job,
    shell:
        "ganrepro --log {log} segmenter train {params.dataset} --data-dir {params.data_dir} --arch {wildcards.arch}"
        " --size {wildcards.size} --epochs {params.epochs} {params.fcn} --device {params.device} --out {params.out}"


rule evaluate:
    input:
        checkpoint="results/{dataset}/{profile}/{table}/{row}/seed{seed}/checkpoints/final.pt",
        segmenter=lambda wc: PLAN.segmenter_inputs(wc.table),
    output:
        "results/{dataset}/{profile}/{table}/{row}/seed{seed}/eval/test-trainmode/metrics.json",
    log:
        "results/{dataset}/{profile}/logs/{table}/{row}/seed{seed}/evaluate.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        run_dir=lambda wc: PLAN.run_dir(wc.table, wc.row, int(wc.seed)),
        metrics=lambda wc: ",".join(PLAN.evaluation_metrics(wc.table)),
        both_directions=lambda wc: " --reverse" if PLAN.table(wc.table).scores_reverse(wc.row) else "",
        fcn=" ".join(PLAN.fcn_arguments()),
        segmenter=lambda wc: " ".join(PLAN.segmenter_arguments(wc.table)),
        device=PROFILE.device,
    threads: PROFILE.threads
    resources:
        gpu=PROFILE.gpus_per_job,
    shell:
        "ganrepro --log {log} evaluate {params.run_dir} --checkpoint final.pt {params.segmenter}"
        " {params.fcn} --metrics {params.metrics} --skip-unavailable{params.both_directions} --device {params.device}"
