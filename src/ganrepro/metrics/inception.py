"""pytorch-fid's InceptionV3 (pool3, 2048-d) built from a weight file we located, never from another source.

FID values are only comparable when every paper uses the TF-ported Inception weights that pytorch-fid ships
(``pt_inception-2015-12-05-6726825d.pth``).  pytorch-fid's own constructor downloads them at build time, which
fails offline and hides where they came from; here we find the file ourselves ($GANREPRO_FID_WEIGHTS, then the
torch hub cache), check its SHA-256 prefix, build the same network structure and hand it to pytorch-fid's
``InceptionV3`` wrapper, so the forward pass (bilinear resize to 299 inside the model, [0,1] -> [-1,1]) is
pytorch-fid's own code.  When the file is missing, FID stops with a message that names the file, its URL and
where to put it; there is no fallback to torchvision's ImageNet Inception (different weights, different FIDs).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from ganrepro.errors import UserError
from ganrepro.metrics.weights import (
    WeightsFile,
    WeightsUnavailable,
    fetch_weights,
    hub_checkpoint_dir,
    locate_weights,
    verify_weights,
)

FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{FID_WEIGHTS_FILENAME}"
FID_WEIGHTS_ENV = "GANREPRO_FID_WEIGHTS"
FID_RESIZE_PROTOCOL = "bilinear to 299x299 inside InceptionV3 (pytorch-fid, align_corners=False)"

_BUILD_LOCK = threading.Lock()


class FeatureExtractor:
    """Float batch (N, 3, H, W) in [0, 1] -> (N, D) float64 features, on a chosen device.

    ``id`` names the network and its exact weights; it keys the real-statistics cache, so two extractors
    must share an id only if they compute the same features.  Tests inject small deterministic modules.
    """

    def __init__(self, module: Any, extractor_id: str, protocol: dict[str, Any], device: str = "cpu") -> None:
        import torch

        self.module = module.to(device).eval() if hasattr(module, "to") else module
        self.id = extractor_id
        self.protocol = dict(protocol)
        self.device = torch.device(device)

    def __call__(self, batch: Any) -> Any:
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            out = self.module(batch.to(self.device))
            if isinstance(out, (list, tuple)):
                out = out[0]
            if out.ndim == 4:  # pytorch-fid pools any non-1x1 map the same way
                out = F.adaptive_avg_pool2d(out, (1, 1))
            return out.reshape(out.shape[0], -1).double().cpu()


def missing_weights_message(path: Path, source: str) -> str:
    """One line naming the file, its URL and where it must go."""
    return (
        f"FID/KID need pytorch-fid's Inception weights {FID_WEIGHTS_FILENAME}, not found at {path} ({source}); "
        f"download {FID_WEIGHTS_URL} into {hub_checkpoint_dir()}/ (or set ${FID_WEIGHTS_ENV} to the file's path), "
        f"or rerun with --fetch-weights on a machine that is online"
    )


def find_fid_weights(
    explicit: str | os.PathLike[str] | None = None, fetch: bool = False, verify: bool = True
) -> WeightsFile:
    """Locate (and with ``fetch`` download) the pytorch-fid weights; raise :class:`WeightsUnavailable` if absent."""
    path, source = locate_weights(FID_WEIGHTS_FILENAME, explicit, FID_WEIGHTS_ENV)
    if not path.is_file():
        if not fetch:
            raise WeightsUnavailable(missing_weights_message(path, source))
        fetch_weights(FID_WEIGHTS_URL, path)
        source += " (fetched from the official URL)"
    return verify_weights(path, FID_WEIGHTS_FILENAME, source, verify=verify)


def _fid_inception_structure() -> Any:
    """The module tree of ``pytorch_fid.inception.fid_inception_v3`` without its download (same blocks)."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


def build_fid_inception(state_dict: dict[str, Any]) -> Any:
    """pytorch-fid's ``InceptionV3([pool3])`` whose backbone carries ``state_dict`` (strictly loaded)."""
    from pytorch_fid import inception as pfi

    net = _fid_inception_structure()
    try:
        net.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise UserError(f"the FID weights do not fit pytorch-fid's InceptionV3: {str(err).splitlines()[0]}") from None
    builder: Callable[[], Any] = lambda: net  # noqa: E731
    # InceptionV3.__init__ calls the module-level fid_inception_v3(), which downloads: hand it our network.
    with _BUILD_LOCK, mock.patch.object(pfi, "fid_inception_v3", builder):
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]], resize_input=True, normalize_input=True)
    return model.eval()


def load_fid_extractor(
    weights: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    fetch: bool = False,
    verify: bool = True,
) -> FeatureExtractor:
    """The FID feature extractor from the located weight file; ``verify=False`` only for tests of this path."""
    import torch

    found = find_fid_weights(weights, fetch=fetch, verify=verify)
    try:
        state = torch.load(found.path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise UserError(f"cannot read FID weights {found.path}: {str(err).strip().splitlines()[0]}") from None
    model = build_fid_inception(state)
    protocol = {
        "network": "pytorch-fid InceptionV3 pool3 (2048-d)",
        "weights": FID_WEIGHTS_FILENAME,
        "weights_path": str(found.path),
        "weights_source": found.source,
        "weights_sha256": found.sha256,
        "weights_verified": found.verified,
        "resize": FID_RESIZE_PROTOCOL,
        "input": "uint8 RGB PNG/JPEG decoded by PIL, /255 to [0,1] (as pytorch-fid's ToTensor)",
    }
    return FeatureExtractor(model, f"pytorch-fid-inception-pool3:{found.sha256[:16]}", protocol, device)
