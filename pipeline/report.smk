# The report: every row's metrics.json beside the paper's numbers, figures and loss curves, rendered once and
# written to reports/{dataset}/{profile}/{table}.md (figures in reports/{dataset}/{profile}/{table}/), so that
# builds of several datasets and profiles are kept side by side, and to reports/{table}.md, the file the
# workflow is usually asked for. All of these are build products (git-ignored). Published reports live in
# reports/published/, which no rule reads or writes: `ganrepro publish` copies a complete build there.


rule report:
    input:
        metrics=lambda wc: [PLAN.metrics_json(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        tracked=lambda wc: [PLAN.mlflow_child(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        parent=lambda wc: PLAN.mlflow_parent(wc.table),
    output:
        report=f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}.md",
        latest="reports/{table}.md",
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
        " --data-dir {params.data_dir} --out {output.report} --out {output.latest} --figures {output.figures}"
        " --mlflow-parent {input.parent}"
