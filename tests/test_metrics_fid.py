"""FID/KID arithmetic, the real-feature cache, and pytorch-fid's Inception loading path (offline)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from metrics_helpers import small_extractor

from ganrepro.errors import UserError
from ganrepro.metrics.fid import fid_and_kid, frechet_distance, frechet_distance_of_features, gaussian_statistics, kid
from ganrepro.metrics.imagesets import NamedImage
from ganrepro.metrics.inception import FID_WEIGHTS_FILENAME, FID_WEIGHTS_URL, load_fid_extractor
from ganrepro.metrics.weights import WeightsUnavailable


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANREPRO_FID_WEIGHTS", raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_frechet_closed_forms() -> None:
    # 1-D: N(0, 1) vs N(1, 4): (0-1)^2 + 1 + 4 - 2*sqrt(4) = 2
    assert frechet_distance(np.array([0.0]), np.array([[1.0]]), np.array([1.0]), np.array([[4.0]])) == pytest.approx(
        2.0
    )
    # diagonal Gaussians: |dmu|^2 + sum (sqrt(a) - sqrt(b))^2
    a, b = np.array([1.0, 2.0, 9.0]), np.array([4.0, 2.0, 1.0])
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    expected = 1 + 4 + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, abs=1e-10)


def test_agrees_with_pytorch_fid() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 64))
    y = rng.normal(size=(300, 64)) @ rng.normal(scale=0.3, size=(64, 64)) + 0.2
    stats = (*gaussian_statistics(x), *gaussian_statistics(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = calculate_frechet_distance(*stats)
    assert abs(frechet_distance(*stats) - reference) < 1e-6
    value, method = frechet_distance_of_features(x, y)  # n >= dims: the same sqrtm route
    assert abs(value - reference) < 1e-6 and method.startswith("sqrtm")


def test_low_rank_route_agrees_with_pytorch_fid() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(3)
    x = np.abs(rng.normal(size=(40, 128)))  # fewer images than dimensions, as with Inception on 100 images
    y = np.abs(rng.normal(size=(30, 128))) * 1.1 + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = calculate_frechet_distance(*gaussian_statistics(x), *gaussian_statistics(y))
    value, method = frechet_distance_of_features(x, y)
    assert method.startswith("low-rank") and value == pytest.approx(reference, rel=1e-6)


def naive_kid(x: np.ndarray, y: np.ndarray) -> float:
    d, m = x.shape[1], len(x)
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_unbiased_estimator_and_behaviour() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5)) + 0.3
    assert kid(x, y, n_subsets=1, subset_size=12)["mean"] == pytest.approx(naive_kid(x, y))
    feats, other = rng.normal(size=(400, 16)), rng.normal(size=(400, 16))
    identical = kid(feats, feats, n_subsets=20, subset_size=100)
    same_distribution = kid(feats, other, n_subsets=20, subset_size=100)
    shifted = kid(feats, feats + 0.5, n_subsets=20, subset_size=100)
    assert shifted["mean"] > 0.5
    # identical sets: ~0 (slightly negative: subsets share points, whose k(x, x) enters the cross term only)
    assert abs(identical["mean"]) < 0.1 * shifted["mean"]
    assert abs(same_distribution["mean"]) < 0.02 * shifted["mean"]
    assert shifted["subset_size"] == 100 and shifted["n_subsets"] == 20
    assert kid(feats[:50], feats[:80], n_subsets=2)["subset_size"] == 50  # min(1000, n_real, n_fake)


def test_fid_kid_from_images_with_cache(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    real = [NamedImage(str(i), rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)) for i in range(30)]
    brighter = [NamedImage(r.name, np.clip(r.source.astype(int) + 60, 0, 255).astype(np.uint8)) for r in real]
    extractor = small_extractor()
    same = fid_and_kid(
        real,
        real,
        extractor,
        cache_dir=tmp_path,
        identity={"data_hash": "x"},
        batch_size=7,
        kid_subset_size=30,
        kid_subsets=5,
    )
    assert same["fid"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert same["fid"]["n_real"] == same["fid"]["n_fake"] == 30
    assert same["fid"]["real_features"]["cache_hit"] is False
    far = fid_and_kid(real, brighter, extractor, cache_dir=tmp_path, identity={"data_hash": "x"}, kid_subsets=5)
    assert far["fid"]["real_features"]["cache_hit"] is True
    assert far["fid"]["value"] > 0.1 and far["kid"]["mean"] > 0
    assert far["fid"]["extractor"] == "test-mean-colour"
    other = fid_and_kid(real, brighter, extractor, cache_dir=tmp_path, identity={"data_hash": "y"}, want=("fid",))
    assert other["fid"]["real_features"]["cache_hit"] is False and "kid" not in other


def test_missing_weights_message_names_file_url_and_folder(no_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(WeightsUnavailable) as err:
        load_fid_extractor()
    message = str(err.value)
    assert FID_WEIGHTS_FILENAME in message and FID_WEIGHTS_URL in message and str(no_weights) in message
    assert "\n" not in message
    monkeypatch.setenv("GANREPRO_FID_WEIGHTS", str(no_weights / "elsewhere.pth"))
    with pytest.raises(WeightsUnavailable, match="elsewhere.pth"):
        load_fid_extractor()


def test_inception_built_from_local_state_dict_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from pytorch_fid import inception as pfi

    from ganrepro.metrics.inception import _fid_inception_structure

    def no_network(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(pfi, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    torch.manual_seed(0)
    state = _fid_inception_structure().state_dict()  # random initialisation
    weights = tmp_path / "random_inception.pth"
    torch.save(state, weights)
    monkeypatch.setenv("GANREPRO_FID_WEIGHTS", str(weights))
    with pytest.raises(UserError, match="6726825d"):  # the official hash is enforced by default
        load_fid_extractor()
    extractor = load_fid_extractor(verify=False)
    assert (
        extractor.protocol["weights_verified"] is False
        and extractor.protocol["weights_source"] == "$GANREPRO_FID_WEIGHTS"
    )
    net = extractor.module.blocks[0][0].conv.weight
    assert torch.equal(net, state["Conv2d_1a_3x3.conv.weight"])
    features = extractor(torch.rand(2, 3, 80, 80))
    assert features.shape == (2, 2048) and torch.isfinite(features).all()


def test_fetch_checks_the_hash_prefix(tmp_path: Path) -> None:
    import hashlib

    from ganrepro.metrics.weights import fetch_weights

    payload = b"not really weights"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    good = tmp_path / "mirror" / f"w-{prefix}.pth"
    good.parent.mkdir()
    good.write_bytes(payload)
    target = tmp_path / "hub" / "checkpoints" / good.name
    assert fetch_weights(good.as_uri(), target) == target and target.read_bytes() == payload
    bad = good.with_name("w-00000000.pth")
    bad.write_bytes(payload)
    with pytest.raises(WeightsUnavailable, match="could not fetch"):
        fetch_weights(bad.as_uri(), tmp_path / "hub" / "checkpoints" / bad.name)
    assert not (tmp_path / "hub" / "checkpoints" / bad.name).exists()
