# The authors' released generators that the tables name (`released:` in params/tables/*.yaml) and that apply to
# this build (same dataset, same resolution): fetched and verified, imported into an ordinary run directory,
# then evaluated by the rows' own evaluate command. Paths and command lines come from PLAN.released (RID: its
# paths with the wildcard in place of an id).

RID = "{rid}"

if PLAN.released.entries:

    wildcard_constraints:
        rid="|".join(PLAN.released.entries),

    rule import_released:
        input:
            PLAN.manifest,
        output:
            PLAN.released.final_checkpoint(RID),
        log:
            PLAN.released.import_log(RID),
        conda:
            "envs/ganrepro.yaml"
        params:
            cmd=lambda wc: PLAN.released.import_command(wc.rid),
        shell:
            "{params.cmd}"

    rule evaluate_released:
        input:
            checkpoint=PLAN.released.final_checkpoint(RID),
            segmenter=lambda wc: PLAN.released.segmenter_checkpoint(wc.rid),
        output:
            PLAN.released.metrics_json(RID),
        log:
            PLAN.released.evaluate_log(RID),
        conda:
            "envs/ganrepro.yaml"
        threads: PROFILE.threads
        resources:
            gpu=PROFILE.gpus_per_job,
        params:
            cmd=lambda wc: PLAN.released.evaluate_command(wc.rid),
        shell:
            "{params.cmd}"
