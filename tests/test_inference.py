"""Evaluation loads a run's generators and nothing else: no discriminator, optimiser or schedule."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_overrides

from ganrepro.config import dump_yaml, load_config
from ganrepro.errors import DataError
from ganrepro.metrics.generators import load_run
from ganrepro.runfiles import CONFIG_FILE, checkpoint_path
from ganrepro.training import checkpoint
from ganrepro.training.trainer import build_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "model, reference, generators", [("pix2pix", "pytorch", {"G"}), ("cyclegan", "lua", {"G_A", "G_B"})]
)  # lua: affine instance norm
def test_load_run_builds_only_the_generators_with_the_saved_weights(
    tmp_path: Path, model: str, reference: str, generators: set[str]
) -> None:
    config = load_config(
        ROOT / "params" / f"{model}.yaml", [*tiny_overrides(tmp_path / "data", model), f"reference={reference}"]
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / CONFIG_FILE).write_text(dump_yaml(config))
    torch.manual_seed(1)
    trained = build_model(config, torch.device("cpu"))
    assert set(trained.nets) > generators  # the training model has discriminators too
    checkpoint.save(checkpoint_path(run), trained.state_dict(), checkpoint.Progress(2, 0, 7), config.digest())

    bundle = load_run(run)
    assert set(bundle.generators) == generators and bundle.step == 7 and bundle.epoch == 2
    for name, net in bundle.generators.items():
        saved = trained.nets[name].state_dict()
        assert all(torch.equal(value, saved[key]) for key, value in net.state_dict().items())
        assert net.training  # the papers' test protocol until told otherwise
    images = torch.zeros(1, 3, 32, 32)
    trained.nets[trained.forward_net].train(True)
    torch.manual_seed(3)
    expected = trained.nets[trained.forward_net](images)
    torch.manual_seed(3)
    assert torch.equal(bundle.translate(images), expected)


def test_a_checkpoint_without_the_translating_generator_is_refused(tmp_path: Path) -> None:
    config = load_config(ROOT / "params" / "pix2pix.yaml", tiny_overrides(tmp_path / "data"))
    run = tmp_path / "run"
    run.mkdir()
    (run / CONFIG_FILE).write_text(dump_yaml(config))
    state = build_model(config, torch.device("cpu")).state_dict()
    del state["nets"]["G"]
    checkpoint.save(checkpoint_path(run), state, checkpoint.Progress(), config.digest())
    with pytest.raises(DataError, match="holds no G weights"):
        load_run(run)
