"""The table builds: params/ tables and profiles (:mod:`.spec`), expanded into jobs (:mod:`.plan`) for the
Snakefile and for dvc.yaml (:mod:`.dvc`)."""
