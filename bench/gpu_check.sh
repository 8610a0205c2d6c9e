#!/usr/bin/env bash
# GPU check in one go (< 8 minutes on one GPU): bf16 training at batch 128 and 512 (samples/s, peak memory, MFU),
# FAISS mining on the GPU with the [gpu] extra, and `pytest -m gpu`. Results: JSON under OUTDIR.
#
#   bash bench/gpu_check.sh OUTDIR [--skip-cuda]
#
# It makes its own environment: .venv if it exists, else a fresh venv in $VENV (default /tmp/embedlab-gpu-venv)
# with torch==2.13.0 installed first, then `pip install -e .[dev,gpu]`. With no network (as on this project's lent
# GPU machines) set WHEELS=<folder of wheels> to install from it (pip download them on a machine with network:
# `pip download -d wheels torch==2.13.0 -e ".[dev,gpu]"`); with neither, USE_SYSTEM_PYTHON=1 runs on the
# machine's python3 if it already has every dependency. --skip-cuda runs the Python pieces on the CPU and skips
# the CUDA parts: it checks the script on a machine without a GPU.
set -uo pipefail
out=${1:?usage: bash bench/gpu_check.sh OUTDIR [--skip-cuda]}
skip=${2:-}
cd "$(dirname "$0")/.."
mkdir -p "$out"
out=$(cd "$out" && pwd)
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
log() { echo "[gpu_check $(date +%H:%M:%S)] $*"; }
status=0

if [ -x .venv/bin/python ]; then
  py=.venv/bin/python
elif [ "${USE_SYSTEM_PYTHON:-0}" = 1 ]; then
  py=python3
else
  venv=${VENV:-/tmp/embedlab-gpu-venv}
  pip_from=()
  [ -n "${WHEELS:-}" ] && pip_from=(--no-index --find-links "$WHEELS")
  python3 -m venv "$venv" || { log "python3 -m venv failed"; exit 2; }
  py=$venv/bin/python
  log "installing torch==2.13.0 first, then embedlab[dev,gpu]"
  timeout 240 "$py" -m pip install -q "${pip_from[@]}" torch==2.13.0 || { log "installing torch failed"; exit 2; }
  extras=dev,gpu
  [ "$skip" = --skip-cuda ] && extras=dev,cpu  # faiss-gpu's import crashes without a GPU (see pyproject.toml)
  timeout 240 "$py" -m pip install -q "${pip_from[@]}" -e ".[$extras]" || { log "installing embedlab failed"; exit 2; }
fi
log "python: $py"
"$py" - "$out/environment.json" <<'PY'
import json, sys, platform
import torch
info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
try:
    import faiss
    info["faiss"] = faiss.__version__
    info["faiss_gpus"] = faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0
except Exception as exc:  # noqa: BLE001 - reported, not fatal
    info["faiss"] = f"not importable: {exc}"
json.dump(info, open(sys.argv[1], "w"), indent=2)
print(info)
PY
[ "$skip" = --skip-cuda ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/nvidia_smi.csv" 2>&1

log "training throughput and FAISS mining"
args=("$out")
[ "$skip" = --skip-cuda ] && args+=(--skip-cuda)
limit=300; [ "$skip" = --skip-cuda ] && limit=1200  # the CPU stand-in is slow
timeout $limit "$py" -m bench.gpu_check "${args[@]}" 2>&1 | tail -20 || status=1

if [ "$skip" = --skip-cuda ]; then
  log "skipping pytest -m gpu (--skip-cuda)"
else
  log "pytest -m gpu"
  timeout 150 "$py" -m pytest -m gpu -q -p no:cacheprovider --junitxml="$out/pytest_gpu.xml" 2>&1 | tail -5 || status=1
fi
"$py" - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json")) if p.stem != "summary"}
(out / "summary.json").write_text(json.dumps(summary, indent=2))
PY
log "done (status $status): $out"
exit $status
