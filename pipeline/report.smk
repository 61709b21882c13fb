# The report: every row's metrics.json beside the paper's numbers, figures and loss curves, rendered once to
# reports/{dataset}/{profile}/{table}.md (figures in reports/{dataset}/{profile}/{table}/), so that builds of
# several datasets and profiles are kept side by side, then copied (latest_report) with its figures to
# reports/{table}.md and reports/{table}/, the file the workflow is usually asked for. All of these are build
# products (git-ignored). Published reports live in reports/published/, which no rule reads or writes:
# `ganrepro publish` copies a complete build there.


rule report:
    input:
        metrics=lambda wc: [PLAN.metrics_json(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        tracked=lambda wc: [PLAN.mlflow_child(wc.table, row, seed) for row, seed in PLAN.runs(wc.table)],
        released=lambda wc: PLAN.released.metrics_files(wc.table),
        parent=PLAN.mlflow_parent(T),
    output:
        report=PLAN.report_copy(T),
        figures=directory(PLAN.figures_dir(T)),
    log:
        PLAN.log(T, "report"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.report_command(wc.table),
    shell:
        "{params.cmd}"


# reports/{table}.md, a step of its own whose input is this build's report: asked for with another dataset or
# profile than the copy it holds, it is rebuilt from that build, because Snakemake's record of the copy names
# another input. A copy without that record (not written by Snakemake here) counts as done: see README.
rule latest_report:
    input:
        report=PLAN.report_copy(T),
        figures=PLAN.figures_dir(T),
    output:
        report=PLAN.report(T),
        figures=directory(PLAN.latest_figures_dir(T)),
    log:
        PLAN.log(T, "latest_report"),
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.latest_report_command(wc.table),
    shell:
        "{params.cmd}"
