"""Runs that two tables share: a row of one table whose resolved config is another table's run (CycleGAN
Tables 2–3's pix2pix rows are the pix2pix tables' L1+cGAN runs) is trained and evaluated once, as that run."""

from __future__ import annotations

import shlex

from ganrepro.cli import build_parser
from ganrepro.workflow.plan import Plan

SHARED_ON_FACADES = {
    **{("cyclegan_ablation", "pix2pix", s): ("pix2pix_ablation", "l1_cgan", s) for s in (0, 1, 2)},
    **{("cyclegan_ablation", "pix2pix_reversed", s): ("pix2pix_photo2labels", "l1_cgan", s) for s in (0, 1, 2)},
}


def every_run(plan: Plan) -> list[tuple[str, str, int]]:
    return [(table, row, seed) for table in plan.tables for row, seed in plan.runs(table)]


def test_a_row_with_another_tables_config_is_that_run_and_trains_in_no_job_of_its_own() -> None:
    plan = Plan("facades", "paper")
    shared = {key: plan.trained_as(*key) for key in every_run(plan) if not plan.owns(*key)}
    assert shared == SHARED_ON_FACADES
    for key, owner in shared.items():
        assert plan.config(*key).digest() == plan.config(*owner).digest()
        assert plan.run_dir(*key) == plan.run_dir(*owner) == f"results/facades/paper/{plan.run_id(*owner)}"
        assert plan.metrics_json(*key) == plan.metrics_json(*owner)
        assert plan.train_command(*key) == plan.train_command(*owner)
        # one MLflow child per table: the CycleGAN table's parent gets its own child of the shared run
        assert plan.mlflow_child(*key) == f"results/facades/paper/{plan.run_id(*key)}/mlflow.json"
        assert plan.mlflow_child(*key) != plan.mlflow_child(*owner)
    jobs = [(pack.table, *run) for table in plan.tables for pack in plan.packs(table) for run in pack.members]
    assert len(jobs) == len(set(jobs)) == len(every_run(plan)) - len(SHARED_ON_FACADES)
    assert set(jobs) == {plan.trained_as(*key) for key in every_run(plan)}


def test_a_shared_run_is_evaluated_once_with_what_every_table_showing_it_reads() -> None:
    plan = Plan("facades", "paper")
    for key, owner in SHARED_ON_FACADES.items():
        assert plan.evaluate_command(*key) == plan.evaluate_command(*owner)
        args = build_parser().parse_args(shlex.split(plan.evaluate_command(*owner))[3:])
        wanted = set(plan.evaluation_metrics(key[0])) | set(plan.evaluation_metrics(owner[0]))
        assert set(args.metrics.split(",")) == wanted
        segmenters = {*plan.segmenter_inputs(key[0]), *plan.segmenter_inputs(owner[0])}
        assert ({args.segmenter} if args.segmenter else set()) == segmenters
        assert args.reverse == any(plan.table(table).scores_reverse(row) for table, row, _ in (key, owner))
    # photo→labels alone scores label maps without a segmenter; shared with the CycleGAN table, which shows
    # FCN-scores, its L1+cGAN runs are evaluated with the segmenter too, so that one metrics.json serves both
    assert plan.segmenter_inputs("pix2pix_photo2labels") == []
    assert plan.run_segmenters("pix2pix_photo2labels", "l1_cgan", 0) == plan.segmenter_inputs("cyclegan_ablation")


def test_runs_that_differ_in_any_key_are_not_shared() -> None:
    # quick: the CycleGAN table's models train on fewer items, so its pix2pix rows are runs of their own
    plan = Plan("facades", "quick")
    assert all(plan.owns(*key) for key in every_run(plan))
    ours, theirs = plan.config("cyclegan_ablation", "pix2pix", 0), plan.config("pix2pix_ablation", "l1_cgan", 0)
    assert ours.data.max_items != theirs.data.max_items and ours.digest() != theirs.digest()
    assert plan.run_dir("cyclegan_ablation", "pix2pix", 0) == "results/facades/quick/cyclegan_ablation/pix2pix/seed0"


def test_plan_names_each_shared_run_and_the_run_it_is(capsys) -> None:
    from ganrepro.cli import main

    assert main(["plan", "--dataset", "facades", "--profile", "paper", "--table", "cyclegan_ablation"]) == 0
    out = capsys.readouterr().out
    assert "12 rows x 3 seeds = 36 runs in 4 training jobs" in out
    assert "shared: pix2pix_reversed/seed2 is pix2pix_photo2labels/l1_cgan/seed2" in out
    assert "cyclegan_ablation/pix2pix/seed" not in out  # no job trains or evaluates it under its own name
