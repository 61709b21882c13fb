"""Grouping a table's runs into packs, and each pack's train-pack command."""

from __future__ import annotations

import shlex

import pytest

from ganrepro.cli import build_parser
from ganrepro.commands.train_pack import parse_member
from ganrepro.errors import ConfigError
from ganrepro.pipeline.packs import table_packs, train_pack_command
from ganrepro.pipeline.plan import Plan


@pytest.mark.parametrize("mode", ["none", "seeds", "compatible"])
def test_every_run_is_in_exactly_one_pack_of_packable_members(mode: str) -> None:
    plan = Plan("facades", "paper")
    for table in ("pix2pix_ablation", "cyclegan_ablation"):
        packs = table_packs(plan, table, mode, 8)
        members = [run for pack in packs for run in pack.members]
        assert sorted(members) == sorted(plan.runs(table))
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
    argv = shlex.split(train_pack_command(plan, pack))
    args = build_parser().parse_args(argv[1:])
    assert args.command == "train-pack" and len(args.member) == len(pack.members)
    for text, (row, seed) in zip(args.member, pack.members):
        run_dir, overrides = parse_member(text)
        assert run_dir == plan.run_dir("pix2pix_ablation", row, seed) and f"seed={seed}" in overrides
