# The authors' released generators that the tables name (`released:` in params/tables/*.yaml) and that apply to
# this build (same dataset, same resolution): fetched and verified, imported into an ordinary run directory,
# then evaluated by the rows' own evaluate command. Command lines come from PLAN.released.

if PLAN.released.entries:

    wildcard_constraints:
        rid="|".join(PLAN.released.entries),

    rule import_released:
        input:
            PLAN.manifest,
        output:
            "results/{dataset}/{profile}/released/{rid}/checkpoints/final.pt",
        log:
            "results/{dataset}/{profile}/logs/released/{rid}/import.log",
        conda:
            "envs/ganrepro.yaml"
        params:
            cmd=lambda wc: PLAN.released.import_command(wc.rid),
        shell:
            "{params.cmd}"

    rule evaluate_released:
        input:
            checkpoint="results/{dataset}/{profile}/released/{rid}/checkpoints/final.pt",
            segmenter=lambda wc: PLAN.segmenter_checkpoint(PLAN.released.entry(wc.rid).size),
        output:
            "results/{dataset}/{profile}/released/{rid}/eval/test-trainmode/metrics.json",
        log:
            "results/{dataset}/{profile}/logs/released/{rid}/evaluate.log",
        conda:
            "envs/ganrepro.yaml"
        threads: PROFILE.threads
        resources:
            gpu=PROFILE.gpus_per_job,
        params:
            cmd=lambda wc: PLAN.released.evaluate_command(wc.rid),
        shell:
            "{params.cmd}"
