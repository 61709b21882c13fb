"""Bootstrap arithmetic of the report on hand-made per-image statistics with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ganrepro.metrics.fid import frechet_distance_of_features, kid
from ganrepro.reporting import bootstrap

#: two images of different sizes: A has 90 labelled pixels, all right; B has 10, all wrong
A = np.array([[60, 0], [0, 30]])
B = np.array([[0, 10], [0, 0]])


def test_fcn_scores_come_from_summed_matrices_not_a_mean_of_image_scores() -> None:
    counts = np.array([[2, 0], [1, 1], [0, 2]])
    result = bootstrap.fcn_replicates(np.stack([A, B]), counts)
    # per-pixel: A alone 1, both 90/100 (a mean of the images' scores would say 0.5), B alone 0
    assert result["pixel_acc"].tolist() == pytest.approx([1.0, 0.9, 0.0])
    # per-class, absent class counting 0: A (1 + 1)/2; A+B (60/70 + 30/30)/2; B (0/10 + absent)/2
    assert result["class_acc"].tolist() == pytest.approx([1.0, (60 / 70 + 1) / 2, 0.0])
    # IoU: class 0 = 60/(70 + 60 - 60), class 1 = 30/(30 + 40 - 30) on A+B
    assert result["class_iou"][1] == pytest.approx((60 / 70 + 30 / 40) / 2)


def test_identical_images_give_a_zero_width_interval_at_the_value() -> None:
    counts = bootstrap.resample_counts(5)
    assert counts.shape == (bootstrap.REPLICATES, 5) and (counts.sum(1) == 5).all()
    values = bootstrap.fcn_replicates(np.stack([A] * 5), counts)["pixel_acc"]
    assert bootstrap.interval(values) == (1.0, 1.0)
    assert np.array_equal(counts, bootstrap.resample_counts(5))  # a fixed draw: re-renders agree


def test_percentile_interval_and_undefined_replicates() -> None:
    assert bootstrap.interval(np.arange(1000.0)) == pytest.approx((24.975, 974.025))
    assert bootstrap.interval(np.array([1.0, np.nan])) is None
    psnr = bootstrap.mean_replicates(np.array([20.0, np.inf]), np.array([[2, 0], [1, 1]]))
    assert psnr[0] == 20.0 and np.isnan(psnr[1])  # a resample with an identical pair has no mean PSNR


def test_pooling_seeds_resamples_seeds_and_keeps_one_seed_as_is() -> None:
    one = np.array([0.1, 0.2, 0.3])
    assert np.array_equal(bootstrap.pool_seeds([one], "t/r"), one)
    low, high = np.zeros(4000), np.ones(4000)
    pooled = bootstrap.pool_seeds([low, high], "t/r")
    # the mean of two seeds drawn with replacement is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4
    assert set(np.unique(pooled)) == {0.0, 0.5, 1.0} and abs((pooled == 0.5).mean() - 0.5) < 0.05
    assert np.array_equal(pooled, bootstrap.pool_seeds([low, high], "t/r"))
    assert not np.array_equal(pooled, bootstrap.pool_seeds([low, high], "t/other"))


@pytest.mark.parametrize(("n", "dims"), [(6, 10), (12, 4)])  # fewer and more images than feature dimensions
def test_fid_and_kid_replicates_equal_the_metrics_on_the_drawn_rows(n: int, dims: int) -> None:
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(n, dims)), rng.normal(size=(n, dims)) + 0.5
    counts = bootstrap.resample_counts(n, replicates=4, seed=3)
    fid, mmd = bootstrap.fid_replicates(real, fake, counts), bootstrap.kid_replicates(real, fake, counts)
    for row, f, k in zip(counts, fid, mmd):
        drawn = np.repeat(np.arange(n), row)
        assert f == pytest.approx(frechet_distance_of_features(real[drawn], fake[drawn])[0], rel=1e-9)
        assert k == pytest.approx(kid(real[drawn], fake[drawn], n_subsets=1, subset_size=n)["mean"], rel=1e-9)
