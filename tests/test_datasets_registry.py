"""The registry (params/datasets.yaml) and the `datasets` / `download` / `prepare` commands."""

from __future__ import annotations

import json

import pytest
import yaml
from datasets_helpers import REAL_REGISTRY, LocalServer, entry, facades_archive, write_registry

from ganrepro.cli import main
from ganrepro.errors import ConfigError
from ganrepro.preparation.registry import dataset_state, get_spec, load_registry

REQUIRED = {
    "facades",
    "maps",
    "edges2shoes",
    "edges2handbags",
    "night2day",
    "cityscapes",
    "horse2zebra",
    "apple2orange",
    "summer2winter_yosemite",
    "monet2photo",
    "cyclegan_facades",
    "cyclegan_cityscapes",
    "synthetic",
}


def test_registry_has_every_data_set_with_consistent_fields():
    registry = load_registry(REAL_REGISTRY)
    assert set(registry) >= REQUIRED
    facades = registry["facades"]
    assert facades.kind == "aligned" and facades.photo_side == "A" and facades.labels_to_photo == "BtoA"
    assert facades.archives[0].url == "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
    assert facades.archives[0].sha256 is None and facades.splits == {"train": 400, "val": 100, "test": 106}
    cmp = facades.labels
    assert cmp.classes == (
        "background",
        "facade",
        "window",
        "door",
        "cornice",
        "sill",
        "balcony",
        "blind",
        "deco",
        "molding",
        "pillar",
        "shop",
    )
    assert cmp.colours[0] == (0, 0, 223) and cmp.colours[-1] == (175, 0, 0)
    assert registry["synthetic"].labels == cmp
    city = registry["cityscapes"].labels
    assert len(city.classes) == 19 and city.classes[0] == "road" and city.classes[-1] == "bicycle"
    assert city.label_id_to_train_id[7] == 0 and city.label_id_to_train_id[33] == 18
    assert len(city.label_id_to_train_id) == 19 and registry["cityscapes"].manual
    assert [a.file for a in registry["cityscapes"].archives] == [
        "gtFine_trainvaltest.zip",
        "leftImg8bit_trainvaltest.zip",
    ]
    for name in ("horse2zebra", "apple2orange", "summer2winter_yosemite", "monet2photo", "cyclegan_facades"):
        spec = registry[name]
        assert spec.kind == "unaligned" and spec.archives[0].format == "zip" and spec.archives[0].sha256
        assert set(spec.splits) == {"trainA", "trainB", "testA", "testB"}
    assert registry["cyclegan_facades"].archives[0].file == "facades.zip"


def test_registry_errors_name_the_entry(tmp_path):
    path = write_registry(tmp_path, {"bad": {**entry("x.tar.gz", "http://x/x.tar.gz"), "kind": "paired"}})
    with pytest.raises(ConfigError, match="datasets.bad: kind must be"):
        load_registry(path)
    path = write_registry(tmp_path, {"bad": entry("x.tar.gz", "http://x/x.tar.gz", sha256="abc")})
    with pytest.raises(ConfigError, match=r"datasets.bad.archives\[0\]: sha256"):
        load_registry(path)
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; known: .*facades"):
        get_spec("nope", load_registry(REAL_REGISTRY))


def test_commands_list_download_prepare(tmp_path, monkeypatch, capsys):
    archive = facades_archive()
    with LocalServer() as server:
        server.state.files["/toy.tar.gz"] = archive
        write_registry(
            tmp_path / "params",
            {
                "toy": entry("toy.tar.gz", "http://unreachable.invalid/toy.tar.gz"),
                "synthetic": yaml.safe_load(REAL_REGISTRY.read_text())["datasets"]["synthetic"],
            },
        )
        monkeypatch.setenv("GANREPRO_PARAMS", str(tmp_path / "params"))
        monkeypatch.setenv("GANREPRO_MIRROR", server.url)
        data = str(tmp_path / "data")

        assert main(["datasets", "--json", "--data-dir", data]) == 0
        listing = json.loads(capsys.readouterr().out)
        assert {d["name"]: d["state"] for d in listing["datasets"]} == {"toy": "absent", "synthetic": "absent"}

        assert main(["download", "toy", "--data-dir", data, "--backoff", "0.01"]) == 0
        out = capsys.readouterr()
        assert "toy.tar.gz sha256" in out.out and "recorded" in out.err
        assert dataset_state(load_registry()["toy"], data) == "downloaded"

    assert main(["prepare", "toy", "--data-dir", data]) == 0
    assert "train 4, test 2" in capsys.readouterr().out
    assert main(["prepare", "synthetic", "--data-dir", data, "--train", "3", "--test", "2", "--size", "32"]) == 0
    capsys.readouterr()
    assert main(["datasets", "--data-dir", data]) == 0
    table = capsys.readouterr().out
    assert "toy" in table and "prepared" in table and "generated" in table

    # user errors are one line, exit 2
    assert main(["prepare", "toy", "--data-dir", data, "--size", "32"]) == 2
    assert "only apply to `prepare synthetic`" in capsys.readouterr().err
    assert main(["download", "synthetic", "--data-dir", data]) == 2
    assert main(["download", "nope", "--data-dir", data]) == 2
    monkeypatch.delenv("GANREPRO_MIRROR")
    assert main(["download", "toy", "--data-dir", str(tmp_path / "fresh"), "--force"]) == 2
    err = capsys.readouterr().err
    assert "http://unreachable.invalid/toy.tar.gz" in err and "--mirror" in err
