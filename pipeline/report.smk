# The report: every row's metrics.json beside the paper's numbers, figures and loss curves. It is written to
# reports/{table}.md and, so that builds of several datasets/profiles can be kept side by side, to
# reports/{dataset}/{profile}/{table}.md with its figures in reports/{dataset}/{profile}/{table}/.


rule report:
    input:
        metrics=lambda wc: [PLAN.metrics_json(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        tracked=lambda wc: [PLAN.mlflow_child(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        parent=lambda wc: PLAN.mlflow_parent(wc.table),
    output:
        main="reports/{table}.md",
        per_build=f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}.md",
        figures=directory(f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}"),
    log:
        f"{PLAN.results}/logs/{{table}}/report.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        dataset=PLAN.dataset,
        profile=PLAN.profile_name,
        data_dir=PLAN.data_dir,
    shell:
        "ganrepro --log {log} report {wildcards.table} --dataset {params.dataset} --profile {params.profile}"
        " --data-dir {params.data_dir} --out {output.main} --out {output.per_build}"
        " --figures {output.figures} --mlflow-parent {input.parent}"
