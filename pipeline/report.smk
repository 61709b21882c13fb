# The report: every row's metrics.json beside the paper's numbers, figures and loss curves, written to
# reports/{dataset}/{profile}/{table}.md (figures in reports/{dataset}/{profile}/{table}/), so that builds of
# several datasets and profiles are kept side by side, then (latest_report) to reports/{table}.md, the file the
# workflow is usually asked for. All of these are build products (git-ignored). Published reports live in
# reports/published/, which no rule reads or writes: `ganrepro publish` copies a complete build there.


rule report:
    input:
        metrics=lambda wc: [PLAN.metrics_json(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        tracked=lambda wc: [PLAN.mlflow_child(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        released=lambda wc: PLAN.released.metrics_files(wc.table),
        parent=lambda wc: PLAN.mlflow_parent(wc.table),
    output:
        report=f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}.md",
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
        " --data-dir {params.data_dir} --out {output.report} --figures {output.figures}"
        " --mlflow-parent {input.parent}"


# reports/{table}.md, a step of its own whose input is this build's report: asked for with another dataset or
# profile than the copy it holds, it is rebuilt from that build (Snakemake counts a requested file that exists as
# done unless an input of its job is to be made).
rule latest_report:
    input:
        report=f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}.md",
        figures=f"reports/{PLAN.dataset}/{PLAN.profile_name}/{{table}}",
    output:
        "reports/{table}.md",
    log:
        f"{PLAN.results}/logs/{{table}}/latest_report.log",
    conda:
        "envs/ganrepro.yaml"
    params:
        dataset=PLAN.dataset,
        profile=PLAN.profile_name,
        data_dir=PLAN.data_dir,
    shell:
        "ganrepro --log {log} report {wildcards.table} --dataset {params.dataset} --profile {params.profile}"
        " --data-dir {params.data_dir} --out {output} --figures {input.figures}"
