"""Config reliability: every number finite and in range, duplicate YAML keys refused everywhere, unreadable
files named in one line, and nothing written into --out when a run is refused."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import tiny_overrides

from ganrepro.cli import main
from ganrepro.config import load_config
from ganrepro.confignumbers import RANGES, numeric_leaves
from ganrepro.errors import ConfigError
from ganrepro.yamlio import load_yaml

ROOT = Path(__file__).resolve().parents[1]
PIX2PIX = ROOT / "params" / "pix2pix.yaml"


@pytest.mark.parametrize(
    "override, key",
    [
        ("pix2pix.lambda_l1=.nan", "pix2pix.lambda_l1"),
        ("cyclegan.lambda_identity=.nan", "cyclegan.lambda_identity"),
        ("cyclegan.lambda_A=.inf", "cyclegan.lambda_A"),
        ("train.lr=.nan", "train.lr"),
        ("train.lr=1e999", "train.lr"),
        ("train.lr=0", "train.lr"),
        ("train.beta1=5", "train.beta1"),
        ("train.beta2=-0.1", "train.beta2"),
        ("network.init_gain=-1", "network.init_gain"),
        ("seed=-1", "seed"),
        ("seed=100000000000000000000", "seed"),
        ("network.ngf=100000000", "network.ngf"),
        ("network.ndf=0", "network.ndf"),
        ("pix2pix.gp_weight=.nan", "pix2pix.gp_weight"),
        ("train.lr=" + "9" * 400, "train.lr"),  # an int too large for a float
    ],
)
def test_non_finite_or_out_of_range_numbers_are_refused_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(PIX2PIX, [override])


def test_nan_weight_with_gan_none_is_refused_not_a_traceback() -> None:
    with pytest.raises(ConfigError, match=r"pix2pix\.lambda_l1"):
        load_config(PIX2PIX, ["pix2pix.gan=none", "pix2pix.lambda_l1=.nan"])


def test_every_numeric_key_has_a_documented_range_that_holds_the_shipped_configs() -> None:
    for name in ("pix2pix", "cyclegan"):
        config = load_config(ROOT / "params" / f"{name}.yaml")
        keys = {key for key, _ in numeric_leaves(config)}
        assert keys - {"data.max_items"} <= set(RANGES), keys - set(RANGES)
        for key, value in numeric_leaves(config):
            assert RANGES[key].contains(value), (key, value)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_duplicate_key_in_a_config_is_refused_naming_key_and_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yaml", "pix2pix:\n  lambda_l1: 100\n  gan: conditional\n  lambda_l1: 0\n")
    with pytest.raises(ConfigError, match=r"duplicate key 'lambda_l1' \(first on line 2, again on line 4\)"):
        load_config(path)


def test_duplicate_keys_are_refused_in_tables_profiles_and_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ganrepro.preparation.registry import load_registry
    from ganrepro.workflow.profile import load_profile
    from ganrepro.workflow.spec import load_table

    params = tmp_path / "params"
    shutil.copytree(ROOT / "params", params)
    monkeypatch.setenv("GANREPRO_PARAMS", str(params))
    table = params / "tables" / "pix2pix_ablation.yaml"
    table.write_text(table.read_text() + "\ntitle: again\n")
    with pytest.raises(ConfigError, match="duplicate key 'title'"):
        load_table("pix2pix_ablation")
    profile = params / "profiles" / "quick.yaml"
    profile.write_text(profile.read_text() + "\nseeds: [0]\n")
    with pytest.raises(ConfigError, match="duplicate key 'seeds'"):
        load_profile("quick")
    registry = params / "datasets.yaml"
    registry.write_text(registry.read_text() + "\nlabel_sets: {}\n")
    with pytest.raises(ConfigError, match="duplicate key 'label_sets'"):
        load_registry(registry)


def test_merge_keys_may_be_overridden(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  x: 3\n")
    assert load_yaml(path)["d"] == {"x": 3, "y": 2}


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe\x00bad", "is not UTF-8 text"),
        ("train: [1\n", r"is not valid YAML \(line 2\)"),
        ("- a\n- b\n", "must hold a mapping"),
        (None, "is a directory"),
    ],
)
def test_unreadable_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture, content, message) -> None:
    path = tmp_path / "bad.yaml"
    if content is None:
        path.mkdir()
    else:
        write(path, content)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err
    assert re.search(message, err)
    assert not (tmp_path / "run").exists()


def train_args(root: Path, out: Path, *extra: str) -> list[str]:
    args = ["train", "--config", str(PIX2PIX), "--out", str(out), "--no-progress"]
    for override in [*tiny_overrides(root), "train.n_epochs_decay=0"]:
        args += ["--set", override]
    return args + list(extra)


@pytest.mark.parametrize(
    "extra",
    [
        ["--set", "train.beta1=5"],
        ["--set", "seed=-1"],
        ["--set", "network.init_gain=-1"],
        ["--device", "tpu"],
        ["--device", "cuda:99"],
        ["--set", "data.root=/nonexistent/prepared"],
        ["--stop-after-epoch", "-1"],
    ],
)
def test_refused_start_writes_nothing_and_the_fixed_command_then_trains(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture, extra: list[str]
) -> None:
    out = tmp_path / "run"
    assert main(train_args(aligned_root, out, "--device", "cpu", *extra)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists(), "a refused run must not create or claim its run directory"
    if extra == ["--set", "train.beta1=5"]:  # fixing the value, the same --out is accepted
        assert main(train_args(aligned_root, out, "--device", "cpu")) == 0
        assert (out / "checkpoints" / "final.pt").is_file()
