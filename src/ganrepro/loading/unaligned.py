"""Unaligned sets (CycleGAN): domain A and domain B images with no correspondence.

Reads ``{split}A/`` and ``{split}B/`` folders, or, when only an aligned ``{split}/`` folder exists, uses its
two halves as the two domains (the pairing is then broken by drawing B at random, so training stays
unpaired while evaluation can still compare against the aligned ground truth).  As in the reference code,
item i takes A[i mod |A|] and a random B; the B draw comes from the per-item generator, so it is
reproducible and independent of workers and resumption.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset

from ganrepro.config import DataConfig
from ganrepro.errors import DataError
from ganrepro.images import list_images, load_image
from ganrepro.loading.aligned import split_pair
from ganrepro.loading.jitter import ImageTransform, item_rng


class UnalignedDataset(Dataset):
    """Items ``{"A", "B", "name", "A_path", "B_path"}``; "A" is the input domain after ``direction``."""

    paired = False

    def __init__(
        self,
        root: str | Path,
        split: str,
        data: DataConfig,
        *,
        seed: int = 0,
        augment: bool = True,
        max_items: int | None = None,
        transform: ImageTransform | None = None,
    ) -> None:
        root = Path(root)
        self.data = data
        self.transform = transform or ImageTransform(data.load_size, data.crop_size, data.flip)
        self.seed = seed
        self.augment = augment
        self.epoch = 0
        folder_a, folder_b = root / f"{split}A", root / f"{split}B"
        if folder_a.is_dir() and folder_b.is_dir():
            self.halves = False
            files_a, files_b = list_images(folder_a), list_images(folder_b)
            if data.direction == "BtoA":
                files_a, files_b = files_b, files_a
        elif (root / split).is_dir():
            self.halves = True
            files_a = files_b = list_images(root / split)
        else:
            raise DataError(f"{root} has neither {split}A/ and {split}B/ nor an aligned {split}/ folder")
        if not files_a or not files_b:
            raise DataError(f"{root}: split {split!r} has an empty domain ({len(files_a)} A, {len(files_b)} B)")
        if max_items is not None:
            files_a, files_b = files_a[:max_items], files_b[:max_items]
        self.files_a, self.files_b = files_a, files_b

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return max(len(self.files_a), len(self.files_b))

    def side(self, path: Path, domain: str) -> Image.Image:
        """Load one domain's image; from an aligned file take the half that holds that domain."""
        image = load_image(path, "RGB")
        if self.halves:
            left, right = split_pair(path, image)
            first = left if self.data.direction == "AtoB" else right
            second = right if self.data.direction == "AtoB" else left
            image = first if domain == "A" else second
        channels = self.data.input_nc if domain == "A" else self.data.output_nc
        return image.convert("L") if channels == 1 else image

    def __getitem__(self, index: int) -> dict:
        rng = item_rng(self.seed, self.epoch, index)
        path_a = self.files_a[index % len(self.files_a)]
        path_b = (
            self.files_b[int(rng.integers(len(self.files_b)))]
            if self.augment
            else self.files_b[index % len(self.files_b)]
        )
        out = {"name": path_a.stem, "A_path": str(path_a), "B_path": str(path_b)}
        for domain, path in (("A", path_a), ("B", path_b)):
            jitter = self.transform.draw(rng) if self.augment else None
            out[domain] = self.transform(self.side(path, domain), jitter)
        return out
