"""Config loading: defaults, overrides, and every rejection names the key and the allowed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganrepro.config import Config, config_from_dict, load_config, parse_override
from ganrepro.errors import ConfigError

PARAMS = Path(__file__).resolve().parents[1] / "params"


def test_params_files_load_with_paper_settings() -> None:
    p2p = load_config(PARAMS / "pix2pix.yaml")
    assert (p2p.network.generator, p2p.network.discriminator, p2p.pix2pix.lambda_l1) == ("unet_256", "patch70", 100.0)
    assert (p2p.data.load_size, p2p.data.crop_size, p2p.train.batch_size) == (286, 256, 1)
    cg = load_config(PARAMS / "cyclegan.yaml")
    assert (cg.network.generator, cg.network.norm, cg.cyclegan.gan_mode, cg.cyclegan.pool_size) == (
        "resnet_9blocks",
        "instance",
        "lsgan",
        50,
    )


def test_overrides_are_typed() -> None:
    cfg = load_config(
        PARAMS / "pix2pix.yaml",
        ["train.lr=1e-4", "pix2pix.lambda_l1=10", "data.flip=false", "data.max_items=null", "seed=7"],
    )
    assert cfg.train.lr == pytest.approx(1e-4) and isinstance(cfg.train.lr, float)
    assert cfg.pix2pix.lambda_l1 == 10.0 and cfg.data.flip is False and cfg.seed == 7
    assert parse_override("a.b=x=y") == ("a.b", "x=y")


@pytest.mark.parametrize(
    "raw, words",
    [
        ({"trian": {}}, ["trian", "allowed keys", "train"]),
        ({"train": {"epochs": 3}}, ["train.epochs", "n_epochs"]),
        ({"train": {"batch_size": 1.5}}, ["train.batch_size", "integer"]),
        ({"data": {"flip": "yes"}}, ["data.flip", "true or false"]),
        ({"network": {"norm": "layer"}}, ["network.norm", "batch", "instance", "none"]),
        ({"pix2pix": {"gan": "cgan"}}, ["pix2pix.gan", "conditional", "unconditional"]),
        ({"network": {"generator": "unet_9"}}, ["unet_9"]),
        ({"network": {"discriminator": "patch99"}}, ["patch99", "patch70", "pixel"]),
        ({"data": {"load_size": 128, "crop_size": 256}}, ["data.crop_size", "data.load_size"]),
        ({"data": {"load_size": 70, "crop_size": 64}}, ["unet_256", "data.crop_size", "64"]),
        ({"pix2pix": {"gan": "none", "lambda_l1": 0}}, ["pix2pix.gan", "lambda_l1", "nothing to train"]),
        (
            {"model": "cyclegan", "network": {"generator": "resnet_9blocks"}, "data": {"output_nc": 1}},
            ["lambda_identity", "input_nc", "output_nc"],
        ),
        ({"train": {"lr": 0}}, ["train.lr"]),
    ],
)
def test_rejections_name_the_key(raw: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw)
    for word in words:
        assert word in str(err.value)


def test_identity_with_equal_channels_and_derived_unet_are_accepted() -> None:
    config_from_dict(
        {"model": "cyclegan", "network": {"generator": "resnet_9blocks"}, "data": {"input_nc": 1, "output_nc": 1}}
    )
    cfg = config_from_dict({"network": {"generator": "unet"}, "data": {"load_size": 72, "crop_size": 64}})
    assert cfg.network.generator == "unet_64"  # the shorthand resolves to the concrete depth


def test_digest_tracks_every_key() -> None:
    assert Config().digest() == Config().digest()
    assert config_from_dict({"seed": 1}).digest() != Config().digest()


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [pix2pix\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["seed"])


def test_layered_config_files(tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text("data: {load_size: 72, crop_size: 64}\nnetwork: {ngf: 16}\n")
    cfg = load_config([PARAMS / "pix2pix.yaml", small], ["train.n_epochs=1"])
    assert cfg.network.generator == "unet_64" and cfg.data.crop_size == 64
    assert cfg.network.discriminator == "patch70" and cfg.pix2pix.lambda_l1 == 100.0  # kept from the base
    assert cfg.train.n_epochs == 1
