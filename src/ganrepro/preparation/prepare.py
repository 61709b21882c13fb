"""``ganrepro prepare``: turn extracted archives into ``prepared/`` (the layout the trainers read).

Each registry entry names its ``recipe:``: ``aligned`` and ``unaligned`` (:mod:`.recipes`), ``cityscapes``
(:mod:`.cityscapes`) and ``synthetic`` (:mod:`.synthetic`, generated rather than extracted).  Whatever the
recipe, the result is committed all-or-nothing with its manifest (:mod:`.staging`).
"""

from __future__ import annotations

import os
from typing import Any

from ganrepro.errors import DataError
from ganrepro.hashing import sha256_json
from ganrepro.preparation.recipes import (
    ALIGNED_ORDER,
    UNALIGNED_FOLDERS,
    Log,
    build_aligned,
    build_unaligned,
    find_root,
    manifest_fields,
    stderr_log,
    up_to_date,
)
from ganrepro.preparation.registry import DatasetSpec, prepared_dir
from ganrepro.preparation.staging import PreparedBuilder
from ganrepro.preparation.synthetic import prepare_synthetic


def prepare_dataset(
    spec: DatasetSpec,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    options: dict[str, int] | None = None,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Prepare ``spec`` (skipped when an identical preparation exists, unless ``force``); return the manifest.

    ``options`` only applies to ``synthetic`` (size, train, test, seed).
    """
    if spec.recipe == "synthetic":
        return prepare_synthetic(spec, data_dir, force=force, options=options or {}, log=log)
    if options:
        raise DataError(f"{', '.join(sorted(options))} only apply to `prepare synthetic`")
    from ganrepro.preparation.download import ensure_extracted

    sources = ensure_extracted(spec, data_dir, log=log)
    hashes = {file: sha for file, (_, sha) in sources.items()}
    source_sha = next(iter(hashes.values())) if len(hashes) == 1 else sha256_json(hashes)
    target = prepared_dir(spec.name, data_dir)
    current = up_to_date(target, source_sha)
    if current is not None and not force:
        log(f"{spec.name}: already prepared from sha256 {source_sha} (use --force to redo)")
        return current
    folders = [folder for folder, _ in sources.values()]
    with PreparedBuilder(target) as builder:
        if spec.recipe == "cityscapes":
            from ganrepro.preparation.cityscapes import build_cityscapes

            build_cityscapes(spec, builder, folders, log=log)
        elif spec.recipe == "aligned":
            build_aligned(spec, builder, find_root(spec, folders[0], ALIGNED_ORDER), log=log)
        else:
            build_unaligned(spec, builder, find_root(spec, folders[0], UNALIGNED_FOLDERS), log=log)
        builder.compare_splits(spec.splits)
        fields = manifest_fields(spec, builder, source_sha256=source_sha, sources=hashes)
        manifest = builder.commit(fields)
    log(f"{spec.name}: prepared {manifest['splits']} in {target} (data_hash {manifest['data_hash']})")
    return manifest
