"""Aligned pairs (pix2pix): one image per pair, A on the left and B on the right (width = 2 · height)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch.utils.data import Dataset

from ganrepro.config import DataConfig
from ganrepro.errors import DataError
from ganrepro.images import list_images, load_image
from ganrepro.loading.jitter import ImageTransform, item_rng


def split_pair(path: Path, image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """Cut an A|B image in two halves; the pair must be exactly twice as wide as it is high."""
    width, height = image.size
    if width != 2 * height:
        raise DataError(f"{path}: aligned pair must be exactly 2:1 (A|B side by side), got {width}x{height}")
    half = width // 2
    return image.crop((0, 0, half, height)), image.crop((half, 0, width, height))


class AlignedDataset(Dataset):
    """Items ``{"A", "B", "name", "A_path", "B_path"}`` where A is the *input* after ``direction``.

    With ``direction: BtoA`` (facades labels -> photo) the right half becomes "A".  ``augment`` turns on the
    paper's jitter; one crop/flip draw is shared by both halves.
    """

    paired = True

    def __init__(
        self,
        folder: str | Path,
        data: DataConfig,
        *,
        seed: int = 0,
        augment: bool = True,
        max_items: int | None = None,
        transform: ImageTransform | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.files = list_images(self.folder)
        if not self.files:
            raise DataError(f"no images found in {self.folder}")
        if max_items is not None:
            self.files = self.files[:max_items]
        self.data = data
        self.seed = seed
        self.augment = augment
        self.transform = transform or ImageTransform(data.load_size, data.crop_size, data.flip)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.files)

    def images(self, index: int) -> tuple[Image.Image, Image.Image]:
        """The decoded (A, B) halves of item ``index``, before any resize (also read by the resident split)."""
        path = self.files[index]
        left, right = split_pair(path, load_image(path, "RGB"))
        a, b = (left, right) if self.data.direction == "AtoB" else (right, left)
        a = a.convert("L") if self.data.input_nc == 1 else a
        b = b.convert("L") if self.data.output_nc == 1 else b
        return a, b

    def __getitem__(self, index: int) -> dict:
        path = self.files[index]
        a, b = self.images(index)
        jitter = self.transform.draw(item_rng(self.seed, self.epoch, index)) if self.augment else None
        return {
            "A": self.transform(a, jitter),
            "B": self.transform(b, jitter),
            "name": path.stem,
            "A_path": str(path),
            "B_path": str(path),
        }
