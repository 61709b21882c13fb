"""The FCN-score's resolution protocols (pix2pix | logits): hand-built scorers with known answers, the segmenter's
training inputs, and the ground-truth row on the images the generated ones stand beside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from metrics_helpers import CLASSES, make_prepared
from PIL import Image

from ganrepro.cli import main
from ganrepro.errors import ConfigError
from ganrepro.metrics.fcn_protocol import as_generated, upsample_to
from ganrepro.metrics.imagesets import NamedImage, read_label
from ganrepro.metrics.segmenter import Segmenter, fcn_score, ground_truth_scores, load_segmenter
from ganrepro.preparation.reader import load_manifest, photos

PARAMS = Path(__file__).resolve().parents[1] / "params" / "pix2pix.yaml"


class SizeSensitive(torch.nn.Module):
    """A hand-built 'segmenter' whose answer depends only on the resolution it is given: class 1 everywhere on
    inputs at least ``threshold`` pixels high, class 0 on smaller ones.  It remembers the batch shapes it saw."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold
        self.seen: list[tuple[int, int, int]] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        n, _, h, w = x.shape
        self.seen.append((n, h, w))
        out = torch.zeros(n, 2, h, w)
        out[:, 1 if h >= self.threshold else 0] = 1.0
        return {"out": out}


class RedParity(torch.nn.Module):
    """A hand-built per-pixel 'segmenter' that sees every grey level: class = parity of the red value (0..255)."""

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        from ganrepro.metrics.segmenter import IMAGENET_MEAN, IMAGENET_STD

        red = torch.round((x[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255) % 2
        return {"out": torch.stack([1 - red, red, torch.zeros_like(red), torch.zeros_like(red)], dim=1)}


def hand_segmenter(model: torch.nn.Module, classes: list[str], size: int, protocol: str) -> Segmenter:
    return Segmenter(model.eval(), "hand-built", classes, size, 255, "cpu", protocol=protocol)


def save_label(path: Path, label: np.ndarray) -> Path:
    Image.fromarray(label.astype(np.uint8), mode="L").save(path)
    return path


def test_upsampling_is_pil_bilinear_with_half_pixel_centres_and_label_shape_order() -> None:
    row = np.zeros((1, 2, 3), np.uint8)
    row[0, 1] = 255
    # half-pixel centres (imresize / PIL): 0, 255/4, 3·255/4, 255; align_corners would give 0, 85, 170, 255
    assert upsample_to(row, (1, 4))[0, :, 0].tolist() == [0, 64, 191, 255]
    wide = upsample_to(np.zeros((2, 2, 3), np.uint8), (4, 8))  # (height, width) as label maps are
    assert wide.shape == (4, 8, 3) and wide.dtype == np.uint8
    same = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    assert upsample_to(same, (4, 4)) is same  # labels at the generated size: nothing to do (facades)


def test_the_two_protocols_give_their_known_different_scores(tmp_path: Path) -> None:
    label = np.ones((16, 16), np.uint8)
    label[0, :] = 255  # ignored
    labels = {"a": save_label(tmp_path / "a.png", label)}
    image = [NamedImage("a", np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8))]
    pix2pix_model, logits_model = SizeSensitive(16), SizeSensitive(16)
    pix2pix = fcn_score(hand_segmenter(pix2pix_model, ["a", "b"], 8, "pix2pix"), image, labels)
    logits = fcn_score(hand_segmenter(logits_model, ["a", "b"], 8, "logits"), image, labels)
    # pix2pix: the 8 px image is upsampled to the 16 px labels and segmented there -> class 1, all right
    assert pix2pix_model.seen == [(1, 16, 16)] and pix2pix["protocol"] == "pix2pix"
    assert pix2pix["confusion_matrix"] == [[0, 0], [0, 240]]
    assert (pix2pix["pixel_acc"], pix2pix["class_acc"], pix2pix["class_iou"]) == (1.0, 0.5, 0.5)  # "a" absent -> 0
    # logits: segmented at 8 px -> class 0, logits upsampled -> every labelled pixel wrong
    assert logits_model.seen == [(1, 8, 8)] and logits["protocol"] == "logits"
    assert logits["confusion_matrix"] == [[0, 0], [240, 0]]
    assert (logits["pixel_acc"], logits["class_acc"], logits["class_iou"]) == (0.0, 0.0, 0.0)
    assert "PIL bilinear" in pix2pix["input_resize"] and "logits upsampled" in logits["prediction_resize"]


def test_full_resolution_batches_hold_the_pixels_of_a_batch_at_the_generated_size(tmp_path: Path) -> None:
    names = [str(i) for i in range(4)]
    labels = {n: save_label(tmp_path / f"{n}.png", np.ones((16, 32), np.uint8)) for n in names}
    images = [NamedImage(n, np.zeros((8, 8, 3), np.uint8)) for n in names]
    for protocol, expected in (("pix2pix", [(2, 16, 32), (2, 16, 32)]), ("logits", [(4, 8, 8)])):
        model = SizeSensitive(16)
        fcn_score(hand_segmenter(model, ["a", "b"], 8, protocol), images, labels, batch_size=16)
        assert model.seen == expected  # 16 images of 8x8 hold the pixels of 2 of 16x32 (height, width)


def test_protocols_agree_when_labels_have_the_generated_size_only(tmp_path: Path) -> None:
    torch.manual_seed(0)
    per_pixel = torch.nn.Conv2d(3, 3, 1)  # a fixed per-pixel classifier
    model = lambda x: {"out": per_pixel(x)}  # noqa: E731
    rng = np.random.default_rng(1)
    images = [
        NamedImage(f"{i}", np.kron(rng.integers(0, 256, (4, 4, 3)), np.ones((2, 2, 1))).astype(np.uint8))
        for i in range(3)
    ]

    def both(label_size: int) -> tuple[list, list]:
        folder = tmp_path / str(label_size)
        folder.mkdir()
        labels = {
            i.name: save_label(folder / f"{i.name}.png", rng.integers(0, 3, (label_size, label_size))) for i in images
        }
        with torch.no_grad():
            return tuple(
                fcn_score(Segmenter(model, "hand-built", ["x", "y", "z"], 8, protocol=p), images, labels)[
                    "confusion_matrix"
                ]
                for p in ("pix2pix", "logits")
            )

    same_size = both(8)  # facades: labels 256 = generated 256
    assert same_size[0] == same_size[1] and sum(map(sum, same_size[0])) == 3 * 64
    larger = both(32)  # Cityscapes-like: labels larger than the generated images
    assert larger[0] != larger[1] and sum(map(sum, larger[0])) == sum(map(sum, larger[1])) == 3 * 32 * 32


def test_ground_truth_photos_are_the_real_images_evaluate_writes(tmp_path: Path) -> None:
    from ganrepro.config import load_config
    from ganrepro.images import to_uint8
    from ganrepro.loading import build_dataset

    prepared = make_prepared(tmp_path, n_train=1, n_test=2, size=48)
    config = load_config(
        [str(PARAMS)],
        [
            f"data.root={prepared}",
            "data.direction=BtoA",
            "data.load_size=36",
            "data.crop_size=32",
            "network.generator=unet_32",
        ],
    )
    dataset = build_dataset(config, split="test", augment=False)
    real = {p.name: p.rgb() for p in photos(prepared, "test", load_manifest(prepared))}
    for item in dataset:
        assert np.array_equal(to_uint8(item["B"]), as_generated(real[item["name"]], 32))
    assert as_generated(real["1"], 32).shape == (32, 32, 3)


def test_pix2pix_training_inputs_take_the_generated_images_path(tmp_path: Path) -> None:
    from ganrepro.metrics.segmenter_train import SegmentationData

    prepared = make_prepared(tmp_path, n_train=2, n_test=1, size=32)
    manifest = load_manifest(prepared)
    source = photos(prepared, "train", manifest)[0].rgb()
    label = read_label(prepared / "labels" / "train" / "1.png")
    expected = np.asarray(
        Image.fromarray(source).resize((16, 16), Image.Resampling.BICUBIC).resize((32, 32), Image.Resampling.BILINEAR)
    )
    photo, target = SegmentationData(prepared, "train", manifest, 16, "pix2pix")[0]
    assert np.array_equal(photo.numpy(), expected) and np.array_equal(target.numpy(), label)  # labels untouched
    photo, target = SegmentationData(prepared, "train", manifest, 16, "logits")[0]
    assert photo.shape == (32, 32, 3) and target.shape == (16, 16)  # today's path: labels resized to the size
    crops = SegmentationData(prepared, "train", manifest, 16, "pix2pix", train_crop=8, seed=3)
    photo, target = crops[0]
    assert crops.crop == 8 and photo.shape == (8, 8, 3) and target.shape == (8, 8)
    windows = [
        (y, x)
        for y in range(25)
        for x in range(25)
        if np.array_equal(expected[y : y + 8, x : x + 8], photo.numpy())
        and np.array_equal(label[y : y + 8, x : x + 8], target.numpy())
    ]
    assert windows  # one window of the full-resolution pair, photo and label registered
    again = SegmentationData(prepared, "train", manifest, 16, "pix2pix", train_crop=8, seed=3)[0]
    assert np.array_equal(again[0].numpy(), photo.numpy())  # crops are seeded
    assert SegmentationData(prepared, "train", manifest, 16, "pix2pix", train_crop=64).crop is None  # whole images
    with pytest.raises(ConfigError, match="pix2pix FCN protocol only"):
        SegmentationData(prepared, "train", manifest, 16, "logits", train_crop=8)


@pytest.fixture(scope="module")
def scorers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    """A 32 px prepared set and one segmenter per protocol for 16 px generated images (one step each)."""
    from ganrepro.metrics.segmenter_train import train_segmenter

    root = tmp_path_factory.mktemp("protocols")
    prepared = make_prepared(root, n_train=2, n_test=2, size=32)
    out = {}
    for protocol in ("pix2pix", "logits"):
        train_segmenter(
            prepared,
            root / protocol,
            size=16,
            epochs=1,
            max_steps=1,
            batch_size=2,
            backbone_weights=None,
            protocol=protocol,
        )
        out[protocol] = root / protocol / "segmenter.pt"
    return prepared, out


def test_ground_truth_row_is_scored_on_real_like_images_and_cached_per_protocol(scorers, tmp_path: Path) -> None:
    prepared, checkpoints = scorers
    labels = {n: prepared / "labels" / "test" / f"{n}.png" for n in ("1", "2")}
    real = [
        NamedImage(p.name, np.asarray(Image.fromarray(p.rgb()).resize((16, 16), Image.Resampling.BICUBIC)))
        for p in photos(prepared, "test", load_manifest(prepared))
    ]
    caches = set()
    for protocol, checkpoint in checkpoints.items():
        seg = load_segmenter(checkpoint)
        assert seg.protocol == protocol and seg.size == 16
        record = json.loads((checkpoint.parent / "segmenter.json").read_text())
        assert record["protocol"] == record["val"]["protocol"] == protocol
        gt = ground_truth_scores(prepared, checkpoint)
        assert (
            gt["protocol"] == protocol and gt["real_size"] == 16 and f"_{protocol}_16_" in Path(gt["cache_file"]).name
        )
        assert gt["labelled_pixels"] == 2 * 32 * 30  # labels at their own 32 px, ignore strip dropped
        caches.add(gt["cache_file"])
        # a scorer that sees every grey level: the row is the score of the bicubic 16 px uint8 photos, exactly
        (tmp_path / protocol).mkdir()
        hand = hand_segmenter(RedParity(), CLASSES, 16, protocol)
        hand.path, hand.sha256 = tmp_path / protocol / "hand.pt", "0" * 64
        parity = ground_truth_scores(prepared, hand)
        assert parity["confusion_matrix"] == fcn_score(hand, real, labels)["confusion_matrix"]
        full = [NamedImage(p.name, p.rgb()) for p in photos(prepared, "test", load_manifest(prepared))]
        assert parity["confusion_matrix"] != fcn_score(hand, full, labels)["confusion_matrix"]  # not the 32 px photos
    assert len(caches) == 2


def test_a_segmenter_is_used_only_under_its_protocol(scorers, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    prepared, checkpoints = scorers
    fake = tmp_path / "fake"
    fake.mkdir()
    for p in photos(prepared, "test", load_manifest(prepared)):
        Image.fromarray(as_generated(p.rgb(), 16)).save(fake / f"{p.name}.png")
    args = [
        "score",
        "--real",
        str(fake),
        "--fake",
        str(fake),
        "--labels",
        str(prepared / "labels" / "test"),
        "--metrics",
        "fcn",
        "--device",
        "cpu",
    ]
    assert main([*args, "--segmenter", str(checkpoints["logits"])]) == 2  # the default protocol is pix2pix
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "trained for FCN protocol 'logits', not 'pix2pix'" in err
    assert main([*args, "--segmenter", str(checkpoints["logits"]), "--fcn-protocol", "logits"]) == 0
    # a checkpoint from before the protocol was recorded is a logits scorer
    payload = torch.load(checkpoints["logits"], weights_only=True)
    del payload["protocol"]
    torch.save(payload, tmp_path / "old.pt")
    assert load_segmenter(tmp_path / "old.pt").protocol == "logits"
    assert load_segmenter(checkpoints["pix2pix"]).classes == CLASSES
