"""Training: the pix2pix and CycleGAN update rules, and the loop that runs, checkpoints and resumes them."""
