# Training: one job per pack of runs trained together (`ganrepro train-pack`, the profile's `pack:`), and one
# per run alone (`ganrepro train`). Either way each run writes its own run directory, so evaluation, tracking and
# reports do not know how it was trained. Re-running an interrupted job resumes it from its checkpoints.


# A run alone: its final.pt; the constraint leaves every packed run's final.pt to its pack's rule.
rule train:
    input:
        PLAN.manifest,
    output:
        f"{PLAN.results}/{{run}}/checkpoints/final.pt",
    log:
        PLAN.log("{run}", "train"),
    wildcard_constraints:
        run="|".join(map(re.escape, PLAN.solo_runs())) or "(?!)",
    conda:
        "envs/ganrepro.yaml"
    params:
        cmd=lambda wc: PLAN.training_command(PLAN.solo_runs()[wc.run]),
    threads: PROFILE.threads
    resources:
        **TRAINING,
    shell:
        "{params.cmd}"


# A pack: one rule each (its members' final.pt are its outputs), named train_pack_TABLE_FIRSTRUN_N.
for pack in PLAN.packed():

    rule:
        name:
            pack.job_name
        input:
            PLAN.manifest,
        output:
            [PLAN.final_checkpoint(pack.table, row, seed) for row, seed in pack.members],
        log:
            PLAN.pack_log(pack),
        conda:
            "envs/ganrepro.yaml"
        params:
            cmd=PLAN.train_pack_command(pack),
        threads: PROFILE.threads
        resources:
            **pack_resources(PLAN, pack),
        shell:
            "{params.cmd}"
