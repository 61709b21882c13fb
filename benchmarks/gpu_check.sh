#!/usr/bin/env bash
# The GPU engine's checks on one CUDA GPU, in under 8 minutes, one summary line per figure at the end:
#   1. prepare facades from an archive folder (default ../shared/datasets, else .device/datasets);
#   2. the tests marked gpu (graphed = eager, graphed resume, resident batches on the GPU);
#   3. benchmarks/train_throughput.py: three engines x pix2pix and CycleGAN, plus a CycleGAN profile (its step
#      timed under the project's settings, without determinism and with the native reflection-pad kernel);
#   4. the same benchmark's pack mode: packs of 1, 3, 8 and 13 seeds, pix2pix and CycleGAN (aggregate samples/s);
#   5. a 2-epoch facades pix2pix run (the paper config) followed by `ganrepro evaluate`.
# Needs torch with CUDA, pytest, pillow, numpy, pyyaml, tqdm, matplotlib, pandas (no snakemake/mlflow/dvc).
#
#   benchmarks/gpu_check.sh [ARCHIVE_DIR]        logs and the profile trace go to $OUT or .device/gpu_check
#
# Environment: PYTHON (default python3), GPU_CHECK_WORK (the prepared data and the 2-epoch run, default
# .device/gpu_check_work) and GPU_CHECK_SMOKE=1: the same steps on the CPU with tiny networks and a few steps,
# which the CPU tests run so that the script itself is known to work before a GPU's minutes are spent on it.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH=src PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
archives=${1:-}
if [ -z "$archives" ]; then
  for candidate in ../shared/datasets .device/datasets; do
    [ -f "$candidate/facades.tar.gz" ] && archives=$candidate && break
  done
fi
[ -n "$archives" ] && [ -f "$archives/facades.tar.gz" ] || { echo "facades.tar.gz not found; pass its folder" >&2; exit 2; }
logs=${OUT:-.device/gpu_check}
work=${GPU_CHECK_WORK:-.device/gpu_check_work}
mkdir -p "$logs" "$work"
export GANREPRO_DATA_DIR=$work/data
data=$GANREPRO_DATA_DIR/facades/prepared
summary=()
started=$(date +%s)

if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
  device=cpu
  tiny=(--set network.ngf=8 --set network.ndf=8 --set network.discriminator=patch16)
  bench=(--device cpu --size 32 --steps 2 --profile-steps 1 "${tiny[@]}" --set pix2pix:network.generator=unet_32
         --set cyclegan:network.generator=resnet_2blocks --set cyclegan:cyclegan.pool_size=3)
  packs=("${bench[@]}" --pack 1,2)
  train_extra=("${tiny[@]}" --set network.generator=unet_32 --set data.load_size=36 --set data.crop_size=32
               --set data.max_items=4)
else
  device=cuda
  bench=(--steps 200)
  # 50 steps a pack (25 runs a model in all; each member also writes its checkpoint, 686 MB for pix2pix)
  packs=(--steps 50 --pack 1,3,8,13)
  train_extra=()
fi

step() {  # step NAME COMMAND...: run, log to $logs/NAME.log, keep its duration
  local name=$1; shift
  local t0=$(date +%s)
  "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  echo "[$name] rc=$rc in $(( $(date +%s) - t0 )) s"
  tail -n 5 "$logs/$name.log"
  return $rc
}

$py -c 'import sys, torch; cuda = torch.cuda.is_available()
print("torch", torch.__version__, torch.cuda.get_device_name(0) if cuda else "(no CUDA device)")
sys.exit(0 if cuda or sys.argv[1] == "cpu" else 1)' "$device" | tee "$logs/device.log" \
  || { echo "no CUDA device: this script measures a GPU (GPU_CHECK_SMOKE=1 runs its steps on the CPU)" >&2; exit 2; }
step prepare bash -c "$py -m ganrepro download facades --mirror file://$(realpath "$archives") \
  && $py -m ganrepro prepare facades" || { echo "prepare failed" >&2; exit 1; }

# Every step has a time limit, so that a hang (a graph capture, a test) costs its limit and not the whole run:
# the summary is printed whatever happens (the limits add up to ~9 minutes if every step ran into its own).
step tests timeout 120 $py -m pytest -q -m gpu tests/test_gpu_engine.py tests/test_pack.py -p no:cacheprovider
summary+=("gpu tests: $(grep -E '[0-9]+ (passed|failed|skipped)' "$logs/tests.log" | tail -n 1)")

step benchmark timeout 150 $py benchmarks/train_throughput.py --data "$data" "${bench[@]}" --profile "$logs"
summary+=("$($py benchmarks/gpu_check_summary.py engines "$logs/benchmark.log")")

# cut at what is left of 360 s, 60 to 200 s, so that the 2-epoch run and its evaluation keep 2 minutes of the
# 8: the packs measured by then are reported
left=$(( 360 - ($(date +%s) - started) ))
cut=$(( left > 200 ? 200 : (left < 60 ? 60 : left) ))
step pack timeout $cut $py benchmarks/train_throughput.py --data "$data" "${packs[@]}"
summary+=("$($py benchmarks/gpu_check_summary.py packs "$logs/pack.log")")

run=$work/pix2pix_2epochs
rm -rf "$run"
train=($py -m ganrepro train --config params/pix2pix.yaml --set "data.root=$data" --set train.n_epochs=2
       --set train.n_epochs_decay=0 "${train_extra[@]}" --device $device --no-progress --out "$run")
if ! step train timeout 90 "${train[@]}"; then  # keep the evaluation check alive if the graphed engine fails
  summary+=("2-epoch facades pix2pix with train.cuda_graph=auto FAILED (see train.log); rerun eager below")
  rm -rf "$run"
  step train_eager timeout 60 "${train[@]}" --set train.cuda_graph=off
fi
summary+=("$($py benchmarks/gpu_check_summary.py train "$run/losses.csv")")
step evaluate timeout 60 $py -m ganrepro evaluate "$run" --metrics ssim,psnr --device $device
summary+=("$($py benchmarks/gpu_check_summary.py evaluate "$run/eval/test-trainmode/metrics.json")")

echo "=== summary ($(( $(date +%s) - started )) s) ==="
printf '%s\n' "${summary[@]}"
