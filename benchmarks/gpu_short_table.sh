#!/usr/bin/env bash
# The pix2pix ablation table on the real facades, profile gpu-short, on one CUDA GPU in one command
# (budget: 8 minutes, data preparation included; see the time arithmetic in params/profiles/gpu-short.yaml):
#   ganrepro build pix2pix_ablation --dataset facades --profile gpu-short --mirror file://ARCHIVE_DIR
# from an archive folder holding facades.tar.gz (default ../shared/datasets, else .device/datasets). Needs torch
# with CUDA, numpy, pillow, pyyaml, tqdm, matplotlib, pandas, scipy, scikit-image; no snakemake, mlflow or dvc
# (without mlflow the MLflow records are left out). Prints the wall time per stage kind and in total, and
# copies the report and its figures to $OUT when it is set.
#
#   benchmarks/gpu_short_table.sh [ARCHIVE_DIR]        JOBS=N stages at once (default 6);
#                                                       PROFILE=smoke tries the same path on CPU
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
archives=${1:-}
if [ -z "$archives" ]; then
  for candidate in ../shared/datasets .device/datasets; do
    [ -f "$candidate/facades.tar.gz" ] && archives=$candidate && break
  done
fi
[ -n "$archives" ] && [ -f "$archives/facades.tar.gz" ] || { echo "facades.tar.gz not found; pass its folder" >&2; exit 2; }

started=$(date +%s)
profile=${PROFILE:-gpu-short}
python3 -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "(no CUDA device)")'
python3 -m ganrepro build pix2pix_ablation --dataset facades --profile "$profile" \
  --mirror "file://$(realpath "$archives")" --jobs "${JOBS:-6}"
rc=$?
echo "=== $profile pix2pix table: exit $rc, $(( $(date +%s) - started )) s in all ==="

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT/reports/facades/$profile" "$OUT/logs"
  cp -r "reports/facades/$profile/pix2pix_ablation.md" "reports/facades/$profile/pix2pix_ablation" \
    "$OUT/reports/facades/$profile/" 2>/dev/null
  cp -r "results/facades/$profile/logs/." "$OUT/logs/" 2>/dev/null
  echo "report, figures and logs copied to $OUT"
fi
exit $rc
