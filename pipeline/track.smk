# MLflow: one parent run per table build (created once, before the per-run jobs fan out), then one child run
# per row x seed with its config, loss history, metrics and images. The tracking store is
# $MLFLOW_TRACKING_URI or sqlite at the absolute path of ./mlflow.db.


rule track_parent:
    input:
        table=lambda wc: str(PLAN.table(wc.table).path),
        profile=str(PROFILE.path),
    output:
        "results/{dataset}/{profile}/{table}/mlflow_parent.json",
    log:
        "results/{dataset}/{profile}/logs/{table}/mlflow_parent.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        dataset=PLAN.dataset,
        profile=PLAN.profile_name,
    shell:
        "ganrepro --log {log} track start {wildcards.table} --dataset {params.dataset} --profile {params.profile}"
        " --out {output}"


rule track_run:
    input:
        metrics="results/{dataset}/{profile}/{table}/{row}/seed{seed}/eval/test-trainmode/metrics.json",
        parent="results/{dataset}/{profile}/{table}/mlflow_parent.json",
    output:
        "results/{dataset}/{profile}/{table}/{row}/seed{seed}/mlflow.json",
    log:
        "results/{dataset}/{profile}/logs/{table}/{row}/seed{seed}/mlflow.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        run_dir=lambda wc: PLAN.run_dir(wc.table, wc.row, int(wc.seed)),
    shell:
        "ganrepro --log {log} track log {params.run_dir} --parent {input.parent} --table {wildcards.table}"
        " --row {wildcards.row} --seed {wildcards.seed} --out {output}"
