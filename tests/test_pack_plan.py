"""Grouping a table's runs into packs, each pack's train-pack command, the profile's ``pack:`` key, the packs
that ``ganrepro plan`` shows and the stages (one per pack) that dvc.yaml and other runners read."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganrepro.cli import build_parser
from ganrepro.commands.train_pack import parse_member
from ganrepro.errors import ConfigError
from ganrepro.training.trainer import state_bytes
from ganrepro.workflow.dvc import dvc_stages
from ganrepro.workflow.packs import job_resources, pack_resources, table_packs
from ganrepro.workflow.plan import Plan
from ganrepro.workflow.profile import PackPolicy, load_profile
from ganrepro.workflow.stages import build_stages


@pytest.mark.parametrize("mode", ["none", "seeds", "compatible"])
def test_every_run_is_in_exactly_one_pack_of_packable_members(mode: str) -> None:
    plan = Plan("facades", "paper")
    for table in ("pix2pix_ablation", "cyclegan_ablation"):
        packs = table_packs(plan, table, mode, 8)
        members = [run for pack in packs for run in pack.members]
        assert sorted(members) == sorted(run for run in plan.runs(table) if plan.owns(table, *run))
        assert all(len(pack.members) <= (1 if mode == "none" else 8) for pack in packs)
        if mode == "seeds":
            assert all(len({row for row, _ in pack.members}) == 1 for pack in packs)


def test_compatible_packs_join_lambda_rows_and_keep_discriminator_inputs_apart() -> None:
    plan = Plan("facades", "paper")
    packs = table_packs(plan, "pix2pix_ablation", "compatible", 13)
    rows_of = [{row for row, _ in pack.members} for pack in packs]
    cgan = next(rows for rows in rows_of if "l1_cgan" in rows)
    assert {"cgan", "lambda_10"} <= cgan and "gan" not in cgan and "l1" not in cgan
    assert max(len(pack.members) for pack in packs) == 13
    with pytest.raises(ConfigError, match="pack = 'all'"):
        table_packs(plan, "pix2pix_ablation", "all", 13)


def test_a_pack_command_gives_each_member_its_run_dir_and_overrides() -> None:
    plan = Plan("synthetic", "smoke")
    pack = table_packs(plan, "pix2pix_ablation", "compatible", 4)[1]
    argv = shlex.split(plan.train_pack_command(pack))
    args = build_parser().parse_args(argv[1:])
    assert args.command == "train-pack" and len(args.member) == len(pack.members)
    for text, (row, seed) in zip(args.member, pack.members):
        run_dir, overrides = parse_member(text)
        assert run_dir == plan.run_dir("pix2pix_ablation", row, seed) and f"seed={seed}" in overrides


def test_profiles_declare_packing_and_an_override_keeps_the_profile_size() -> None:
    assert load_profile("paper").pack == PackPolicy("compatible", 13)
    assert load_profile("smoke").pack == PackPolicy() and not load_profile("quick").pack.packing
    assert Plan("synthetic", "paper", pack="seeds").pack_policy == PackPolicy("seeds", 13)
    assert Plan("synthetic", "smoke", pack="compatible:4").pack_policy == PackPolicy("compatible", 4)
    assert all(len(p.members) == 1 for p in Plan("facades", "paper", pack="none").packs("pix2pix_ablation"))


@pytest.mark.parametrize(
    "value, message",
    [
        ("pack: all", "pack: mode must be one of none, seeds, compatible, got 'all'"),
        ("pack: seeds", "pack: 'seeds' needs a maximum pack size"),
        ("pack: {mode: seeds, max_size: 0}", "pack.max_size must be a positive integer, got 0"),
        ("pack: {mode: compatible}", "pack: missing key 'max_size'"),
        ("pack: {mode: compatible, max_size: 3, size: 2}", "pack: unknown key 'size'"),
    ],
)
def test_a_bad_pack_value_is_one_line_naming_the_profile_file_and_key(tmp_path: Path, value: str, message: str) -> None:
    params = shutil.copytree(Path(__file__).resolve().parents[1] / "params", tmp_path / "params")
    smoke = params / "profiles" / "smoke.yaml"
    smoke.write_text(smoke.read_text().replace("pack: none", value))
    result = subprocess.run(
        [sys.executable, "-m", "ganrepro", "plan", "--dataset", "synthetic", "--profile", "smoke"],
        capture_output=True,
        text=True,
        env={**_env(), "GANREPRO_PARAMS": str(params)},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"profiles/smoke.yaml: {message}" in result.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "GANREPRO_PARAMS"}


def test_plan_lists_every_pack_with_its_members_and_command() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganrepro",
            "plan",
            "--dataset",
            "synthetic",
            "--profile",
            "smoke",
            "--pack",
            "compatible:4",
            "--table",
            "pix2pix_ablation",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
    )
    lines = result.stdout.splitlines()
    assert "packs: compatible, at most 4 runs a pack" in lines
    assert "pix2pix_ablation: 14 rows x 1 seeds = 14 runs in 10 training jobs" in lines
    # smoke asks 10 min and 2000 MB a job, on the CPU: a pack of 4 costs what its runs cost one after another
    header = lines.index(
        "  pack cgan-seed0+3 (4 runs; the job asks 40 min, 8000 MB): cgan/seed0, l1_cgan/seed0, lambda_1/seed0, "
        "lambda_10/seed0"
    )
    assert lines[header + 1].split()[3:5] == ["train-pack", "--config"]
    assert lines.index("  alone: l1/seed0") >= 0


def test_a_pack_job_asks_a_snapshot_more_per_member_on_a_gpu_and_n_runs_on_a_cpu() -> None:
    paper, smoke = load_profile("paper"), load_profile("smoke")
    assert job_resources(paper) == {"gpu": 1, "runtime": 1440, "mem_mb": 16000}
    assert job_resources(paper, 3, 2**20 + 1) == {"gpu": 1, "runtime": 1440, "mem_mb": 16000 + 2 * 2}
    assert job_resources(smoke, 4, 10**9) == {"gpu": 0, "runtime": 40, "mem_mb": 8000}
    plan = Plan("facades", "paper")
    pack = next(p for p in plan.packs("pix2pix_ablation") if len(p.members) == 13)
    # unet_256 + patch70: 57.2 M parameters, weights and two Adam moments in float32 (686 MB a checkpoint)
    member = state_bytes(plan.config(pack.table, *pack.members[0]))
    assert 650 * 2**20 < member < 660 * 2**20
    assert pack_resources(plan, pack)["mem_mb"] == 16000 + 12 * 655


def test_stages_train_each_pack_once_before_its_members_are_evaluated() -> None:
    plan = Plan("synthetic", "smoke", pack="compatible:4")
    stages = build_stages(plan)
    made: dict[str, str] = {}
    for stage in stages:
        built = [dep for dep in stage.deps if dep.startswith(("results/", "reports/", "data/"))]
        assert all(dep in made for dep in built), stage.name
        for out in stage.outs:
            assert out not in made, f"{out} is written by {made[out]} and {stage.name}"
            made[out] = stage.name
    packs = [s for s in stages if s.kind == "train-pack"]
    # Tables in name order: CycleGAN (its pix2pix rows apart), the pix2pix ablations, pix2pix photo→labels.
    assert [(s.table, len(s.runs)) for s in packs] == [
        ("cyclegan_ablation", 4),
        ("cyclegan_ablation", 4),
        ("pix2pix_ablation", 2),
        ("pix2pix_ablation", 4),
        ("pix2pix_photo2labels", 2),
    ]
    assert all(s.cmd.split()[3] == "train-pack" and len(s.outs) == len(s.runs) for s in packs)
    trained = [(s.table, *run) for s in stages if s.kind in ("train", "train-pack") for run in s.runs]
    # 29 runs, of which the CycleGAN table's two pix2pix rows are trained as the pix2pix tables' L1+cGAN runs
    assert len(trained) == len(set(trained)) == 29 - 2
    assert set(trained) == {plan.trained_as(table, *run) for table in plan.tables for run in plan.runs(table)}


def test_a_pack_stage_depends_on_every_member_rows_params_once() -> None:
    stages = dvc_stages(Plan("facades", "paper"))
    pack = stages["train-pack-pix2pix_ablation-cgan-seed0+12"]
    assert pack["params"] == [
        {
            "params/tables/pix2pix_ablation.yaml": [
                f"rows.{row}.set" for row in ("cgan", "l1_cgan", "lambda_1", "lambda_10", "lambda_1000")
            ]
        },
        {"params/profiles/paper.yaml": ["config"]},
    ]
    assert len(pack["outs"]) == 13 and pack["cmd"][0].startswith("ganrepro dvc-yaml --check")
    assert not any(name.startswith("train-pix2pix_ablation-") for name in stages)  # every paper run is packed
