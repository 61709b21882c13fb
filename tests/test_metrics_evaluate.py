"""``ganrepro evaluate`` end to end on a tiny trained pix2pix run (train-mode and eval-mode generation)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import manifest_hash, prepare_dataset, small_extractor
from PIL import Image

from ganrepro.cli import main
from ganrepro.metrics import inception, per_image
from ganrepro.metrics.confusion import table_scores

TINY = [
    "data.load_size=36",
    "data.crop_size=32",
    "network.ngf=8",
    "network.ndf=8",
    "network.generator=unet_32",
    "network.discriminator=patch16",
    "train.n_epochs=1",
    "train.n_epochs_decay=0",
    "train.sample_count=2",
    "train.sample_every_steps=0",
    "train.latest_every_steps=0",
    "train.checkpoint_every_epochs=1",
]
PARAMS = Path(__file__).resolve().parents[1] / "params" / "pix2pix.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-epoch labels->photo pix2pix run on a tiny synthetic prepared set, and a segmenter in its
    default place."""
    from ganrepro.metrics.segmenter_train import default_out, train_segmenter

    root = tmp_path_factory.mktemp("eval")
    prepared = prepare_dataset(root / "data", n_train=4, n_test=3)
    overrides = [f"data.root={prepared}", "data.direction=BtoA", *TINY]
    args = ["train", "--config", str(PARAMS), "--out", str(root / "run"), "--device", "cpu", "--no-progress"]
    assert main(args + [x for o in overrides for x in ("--set", o)]) == 0
    train_segmenter(
        prepared,
        default_out(prepared, "lraspp_mobilenet_v3_large", 32),
        epochs=1,
        max_steps=1,
        batch_size=2,
        backbone_weights=None,
    )
    return root / "run"


@pytest.fixture
def fake_inception(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inception, "load_fid_extractor", lambda *a, **k: small_extractor())


def test_evaluate_train_mode_writes_pngs_and_metrics(run: Path, fake_inception, capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", str(run), "--device", "cpu", "--kid-subsets", "3"]) == 0
    out = run / "eval" / "test-trainmode"
    report = json.loads((out / "metrics.json").read_text())
    assert sorted(p.name for p in (out / "images").iterdir()) == ["1.png", "2.png", "3.png"]
    assert Image.open(out / "images" / "1.png").size == (32, 32)
    assert report["format"] == "ganrepro-metrics/1"
    assert report["run"]["step"] > 0 and report["run"]["epoch"] == 1 and report["run"]["model"] == "pix2pix"
    assert (
        report["data"]["data_hash"] == manifest_hash(Path(report["data"]["prepared_dir"]))
        and report["data"]["n_images"] == 3
    )
    assert report["generation"]["mode"] == "train" and report["generation"]["batch_size"] == 1
    assert report["absent_class_convention"]["tables_use"] == "absent_as_zero"
    metrics = report["metrics"]
    assert list(metrics) == ["fcn", "fid", "kid", "ssim", "psnr"]
    assert all(m["generator_mode"] == "train" for m in metrics.values())
    fcn = metrics["fcn"]
    assert fcn["n_images"] == 3 and fcn["segmenter_sha256"] and "ground_truth" in fcn
    assert Path(fcn["ground_truth"]["cache_file"]).is_file()
    assert (
        fcn["protocol"] == fcn["ground_truth"]["protocol"] == "pix2pix"
        and "real/" in fcn["ground_truth"]["real_images"]
    )
    assert metrics["fid"]["n_real"] == 3 and metrics["fid"]["real_features"]["cache"]
    assert metrics["kid"]["n_subsets"] == 3 and metrics["ssim"]["n_images"] == 3
    stats = per_image.read(out, report["per_image"])  # checked against the SHA-256 metrics.json records
    assert list(stats["names"]) == ["1", "2", "3"] and report["per_image"]["file"] == "per_image.npz"
    assert np.array_equal(stats["fcn_confusion"].sum(0), np.array(fcn["confusion_matrix"]))  # the set's matrix
    assert table_scores(stats["fcn_gt_confusion"].sum(0))["pixel_acc"] == pytest.approx(
        fcn["ground_truth"]["pixel_acc"]
    )
    assert stats["ssim"].mean() == pytest.approx(metrics["ssim"]["value"]) and stats["psnr"].shape == (3,)
    assert stats["fid_real_features"].shape == stats["fid_fake_features"].shape == (3, 22)
    first = np.asarray(Image.open(out / "images" / "2.png"))
    # seeded dropout: evaluating again gives the same images and numbers (and reuses the real-feature cache)
    assert main(["evaluate", str(run), "--device", "cpu", "--kid-subsets", "3"]) == 0
    again = json.loads((out / "metrics.json").read_text())["metrics"]
    assert np.array_equal(first, np.asarray(Image.open(out / "images" / "2.png")))
    assert again["ssim"]["value"] == metrics["ssim"]["value"] and again["fid"]["real_features"]["cache_hit"] is True
    assert "fcn" in capsys.readouterr().out
    # the segmenter was trained for the pix2pix protocol: scoring with another one is refused before generating
    assert main(["evaluate", str(run), "--device", "cpu", "--metrics", "fcn", "--fcn-protocol", "logits"]) == 2
    assert "trained for FCN protocol 'pix2pix', not 'logits'" in capsys.readouterr().err


def test_evaluate_eval_mode(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "e"
    assert (
        main(["evaluate", str(run), "--eval-mode", "--metrics", "ssim,psnr", "--out", str(out), "--device", "cpu"]) == 0
    )
    report = json.loads((out / "metrics.json").read_text())
    assert report["generation"]["mode"] == "eval" and list(report["metrics"]) == ["ssim", "psnr"]
    assert len(list((out / "real").iterdir())) == 3


def test_evaluate_without_fid_weights(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANREPRO_FID_WEIGHTS", raising=False)
    out = tmp_path / "x"
    args = ["evaluate", str(run), "--metrics", "fid,psnr", "--out", str(out), "--device", "cpu"]
    assert main(args) == 2
    assert inception.FID_WEIGHTS_URL in capsys.readouterr().err and not out.exists()  # failed before generating
    assert main([*args, "--skip-unavailable"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["metrics"]
    assert metrics["fid"]["available"] is False and metrics["psnr"]["value"] > 0
