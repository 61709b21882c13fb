"""Data sets on disk: the registry (params/datasets.yaml), verified downloads, safe extraction, preparation
into the layout the trainers read (``{data_dir}/{name}/prepared``), its manifest, and the offline
``synthetic`` generator.

Layout per data set: ``raw/`` (the verified archives), ``extracted/`` (their contents, one folder per
archive), ``prepared/`` (what trainers and metrics read, described by ``prepared/manifest.json``).
The torch Dataset classes that read ``prepared/`` live in :mod:`ganrepro.loading`, not here.
"""
