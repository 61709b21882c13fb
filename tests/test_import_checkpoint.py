"""`ganrepro import-checkpoint`: a generator saved in the PyTorch port's key layout becomes a run to evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from ganrepro.cli import main
from ganrepro.config import load_config
from ganrepro.hashing import sha256_file
from ganrepro.metrics.generators import load_run

ROOT = Path(__file__).resolve().parents[1]


class PortBlock(nn.Module):
    """One U-Net level laid out as the port lays it out: ``self.model`` = down layers, inner level, up layers."""

    def __init__(
        self, outer: int, inner: int, input_nc: int | None = None, sub: nn.Module | None = None, outermost: bool = False
    ) -> None:
        super().__init__()
        input_nc = input_nc or outer
        down = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)
        if outermost:
            layers = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif sub is None:
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                nn.ReLU(True),
                nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer),
            ]
        else:
            layers = [
                nn.LeakyReLU(0.2, True),
                down,
                nn.BatchNorm2d(inner),
                sub,
                nn.ReLU(True),
                nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False),
                nn.BatchNorm2d(outer),
            ]
        self.model = nn.Sequential(*layers)
        self.outermost = outermost

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class PortUnet(nn.Module):
    def __init__(self, num_downs: int, ngf: int) -> None:
        super().__init__()
        block = PortBlock(ngf * 8, ngf * 8)
        for _ in range(num_downs - 5):
            block = PortBlock(ngf * 8, ngf * 8, sub=block)
        for outer, inner in ((ngf * 4, ngf * 8), (ngf * 2, ngf * 4), (ngf, ngf * 2)):
            block = PortBlock(outer, inner, sub=block)
        self.model = PortBlock(3, ngf, input_nc=3, sub=block, outermost=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def port_checkpoint(path: Path, ngf: int = 4) -> PortUnet:
    torch.manual_seed(7)
    net = PortUnet(5, ngf)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0, 0.05)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    torch.save({f"module.{k}" if k.startswith("model.model.0") else k: v for k, v in net.state_dict().items()}, path)
    assert "model.model.1.model.3.model.1.weight" in net.state_dict()  # the port's nesting, not ours
    return net


def sets(root: Path) -> list[str]:
    return [
        "--set",
        f"data.root={root}",
        "--set",
        "data.load_size=32",
        "--set",
        "data.crop_size=32",
        "--set",
        "network.ngf=4",
    ]


def test_port_layout_generator_imports_and_gives_the_same_images(aligned_root: Path, tmp_path: Path) -> None:
    source = tmp_path / "latest_net_G.pth"
    port = port_checkpoint(source)
    out = tmp_path / "released"
    assert (
        main(
            [
                "import-checkpoint",
                str(source),
                "--arch",
                "unet_32",
                "--out",
                str(out),
                *sets(aligned_root),
                "--sha256",
                sha256_file(source),
            ]
        )
        == 0
    )
    bundle = load_run(out, checkpoint_name="final.pt")
    assert bundle.config.reference == "pytorch" and bundle.config.network.dropout == "pytorch"
    net = bundle.generators["G"].eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(net(x), port.eval()(x), atol=1e-6)
    provenance = json.loads((out / "provenance.json").read_text())["invocations"][0]
    assert provenance["kind"] == "import" and provenance["imported"][0]["sha256"] == sha256_file(source)
    assert provenance["data_root"] == str(aligned_root)
    assert main(["evaluate", str(out), "--checkpoint", "final.pt", "--metrics", "ssim,psnr"]) == 0


def test_wrong_architecture_or_hash_is_refused_and_writes_nothing(
    aligned_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "g.pth"
    port_checkpoint(source)
    out = tmp_path / "run"
    assert (
        main(
            [
                "import-checkpoint",
                str(source),
                "--arch",
                "unet_64",
                "--out",
                str(out),
                *sets(aligned_root),
                "--set",
                "data.load_size=64",
                "--set",
                "data.crop_size=64",
            ]
        )
        == 2
    )
    assert "not this architecture" in capsys.readouterr().err and not out.exists()
    assert (
        main(
            [
                "import-checkpoint",
                str(source),
                "--arch",
                "unet_32",
                "--out",
                str(out),
                *sets(aligned_root),
                "--sha256",
                "0" * 64,
            ]
        )
        == 2
    )
    assert "does not match" in capsys.readouterr().err and not out.exists()
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert (
        main(
            [
                "import-checkpoint",
                str(tmp_path / "junk.pth"),
                "--arch",
                "unet_32",
                "--out",
                str(out),
                *sets(aligned_root),
            ]
        )
        == 2
    )
    assert not out.exists()


def test_resnet_generators_of_a_cyclegan_import_by_order(aligned_root: Path, tmp_path: Path) -> None:
    from ganrepro.training.trainer import build_model

    config = load_config(
        ROOT / "params" / "cyclegan.yaml",
        [
            "reference=pytorch",
            f"data.root={aligned_root}",
            "data.load_size=32",
            "data.crop_size=32",
            "network.ngf=4",
            "network.generator=resnet_2blocks",
        ],
    )
    torch.manual_seed(3)
    donor = build_model(config, torch.device("cpu"))
    for name in ("G_A", "G_B"):  # the port's ResnetGenerator keys are model.N.*, as ours; add stale IN statistics
        state = {f"module.{k}": v for k, v in donor.nets[name].state_dict().items()}
        state["model.2.running_mean"] = torch.zeros(4)
        torch.save(state, tmp_path / f"{name}.pth")
    out = tmp_path / "cg"
    assert (
        main(
            [
                "import-checkpoint",
                str(tmp_path / "G_A.pth"),
                "--g-b",
                str(tmp_path / "G_B.pth"),
                "--arch",
                "resnet_2blocks",
                "--out",
                str(out),
                *sets(aligned_root),
            ]
        )
        == 0
    )
    bundle = load_run(out, checkpoint_name="final.pt")
    for name in ("G_A", "G_B"):
        for key, value in donor.nets[name].state_dict().items():
            assert torch.equal(bundle.generators[name].state_dict()[key], value)
