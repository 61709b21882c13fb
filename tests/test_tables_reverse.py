"""Photo→labels from runs that train labels→photo: CycleGAN's second generator scored by the labelmap metric
(``evaluate --reverse``), with per-image confusion matrices for the report's intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import prepare_dataset

from ganrepro.cli import main
from ganrepro.metrics import per_image

PARAMS = Path(__file__).resolve().parents[1] / "params"
TINY = [
    "data.load_size=36",
    "data.crop_size=32",
    "network.ngf=4",
    "network.ndf=4",
    "train.n_epochs=1",
    "train.n_epochs_decay=0",
    "train.sample_count=1",
    "train.sample_every_steps=0",
    "train.latest_every_steps=0",
    "train.checkpoint_every_epochs=0",
    "cyclegan.lambda_identity=0",
    "network.generator=resnet_6blocks",
]


def test_reverse_evaluation_scores_cyclegan_g_b_as_photo_to_labels(tmp_path: Path) -> None:
    prepared = prepare_dataset(tmp_path / "data", n_train=2, n_test=2)
    manifest = json.loads((prepared / "manifest.json").read_text())
    labels_to_photo = "BtoA" if manifest["photo_side"] == "A" else "AtoB"
    sets = [x for o in [f"data.root={prepared}", f"data.direction={labels_to_photo}", *TINY] for x in ("--set", o)]
    run = tmp_path / "run"
    assert main(["train", "--config", str(PARAMS / "cyclegan.yaml"), "--out", str(run), "--no-progress", *sets]) == 0
    assert main(["evaluate", str(run), "--metrics", "labelmap,ssim", "--skip-unavailable", "--reverse"]) == 0
    folder = run / "eval" / "test-trainmode"
    forward = json.loads((folder / "metrics.json").read_text())
    assert forward["metrics"]["labelmap"]["available"] is False  # G_A outputs photos
    assert forward["reverse"]["direction"] != labels_to_photo and forward["reverse"]["generator"] == "G_B"
    back = json.loads((folder / forward["reverse"]["file"]).read_text())
    assert back["data"]["direction"] == forward["reverse"]["direction"]
    assert back["run"]["config_digest"] == forward["run"]["config_digest"]  # the same run, read the other way
    labelmap = back["metrics"]["labelmap"]
    assert labelmap["n_images"] == 2 and 0 <= labelmap["pixel_acc"] <= 1
    stats = per_image.read(folder / "reverse", back["per_image"])
    assert stats["labelmap_confusion"].shape[0] == 2
    assert np.array_equal(stats["labelmap_confusion"].sum(0), np.array(labelmap["confusion_matrix"]))
    # the reverse generator's outputs are label maps of the input photos' size, not the forward ones
    assert sorted(p.name for p in (folder / "reverse" / "images").glob("*.png")) == sorted(
        p.name for p in (folder / "images").glob("*.png")
    )


def test_reverse_evaluation_is_refused_for_pix2pix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prepared = prepare_dataset(tmp_path / "data", n_train=2, n_test=2)
    tiny = [o for o in TINY if not o.startswith(("cyclegan.", "network.generator"))] + [
        "network.generator=unet_32",
        "network.discriminator=patch16",
    ]
    sets = [x for o in [f"data.root={prepared}", *tiny] for x in ("--set", o)]
    run = tmp_path / "run"
    assert main(["train", "--config", str(PARAMS / "pix2pix.yaml"), "--out", str(run), "--no-progress", *sets]) == 0
    assert main(["evaluate", str(run), "--metrics", "ssim", "--reverse"]) == 2
    assert "a pix2pix run has one direction" in capsys.readouterr().err
    assert not (run / "eval").exists()  # refused before generating anything


@pytest.mark.parametrize(("dataset", "classes"), [("facades", 12), ("cityscapes", 19)])
def test_labelmap_decodes_each_registry_palette(tmp_path: Path, dataset: str, classes: int) -> None:
    """Generated maps in the registry's colours (CMP facades, Cityscapes trainIds) decode to their classes; a
    class painted in another class's colour counts against both."""
    from PIL import Image

    from ganrepro.metrics.imagesets import NamedImage
    from ganrepro.metrics.labelmaps import labelmap_score
    from ganrepro.preparation.labels import palette_array, render_colour_map
    from ganrepro.preparation.registry import get_spec

    spec = get_spec(dataset)
    palette = palette_array(spec.labels)
    assert palette.shape == (classes, 3)
    truth = np.repeat(np.arange(classes, dtype=np.uint8), 4).reshape(classes, 4)  # one row of pixels per class
    Image.fromarray(truth).save(tmp_path / "1.png")
    wrong = truth.copy()
    wrong[0] = 1  # class 0 painted as class 1
    stats: dict = {}
    score = labelmap_score(
        [NamedImage("1", render_colour_map(wrong, palette))],
        {"1": tmp_path / "1.png"},
        palette.tolist(),
        list(spec.labels.classes),
        per_image=stats,
    )
    assert score["pixel_acc"] == pytest.approx((classes - 1) / classes)
    assert score["per_class"][spec.labels.classes[0]]["acc"] == 0.0
    assert score["per_class"][spec.labels.classes[1]]["iou"] == pytest.approx(0.5)  # its 4 + the 4 wrong ones
    assert stats["labelmap_confusion"].shape == (1, classes, classes)
