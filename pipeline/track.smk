# MLflow: one parent run per table build (created once, before the per-run jobs fan out), then one child run
# per row x seed with its config, loss history, metrics and images. The tracking store is
# $MLFLOW_TRACKING_URI or sqlite at the absolute path of ./mlflow.db.


rule track_parent:
    input:
        table=lambda wc: str(PLAN.table(wc.table).path),
        profile=str(PROFILE.path),
    output:
        PLAN.mlflow_parent(T),
    log:
        PLAN.log(T, "mlflow_parent"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.track_parent_command(wc.table),
    shell:
        "{params.cmd}"


rule track_run:
    input:
        metrics=lambda wc: PLAN.metrics_json(wc.table, wc.row, int(wc.seed)),  # a shared run's: its owner's
        parent=PLAN.mlflow_parent(T),
    output:
        PLAN.mlflow_child(T, R, S),
    log:
        PLAN.log(T, R, f"seed{S}", "mlflow"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.track_run_command(wc.table, wc.row, int(wc.seed)),
    shell:
        "{params.cmd}"
