"""ganrepro: regenerate the pix2pix and CycleGAN ablation tables, reproducibly."""

__version__ = "0.1.0"
