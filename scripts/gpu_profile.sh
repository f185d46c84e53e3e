#!/usr/bin/env bash
# Build and validate hwnas' GPU devices in one command, on a machine with an NVIDIA GPU and CUDA torch:
#   1. PyTorch CUDA profiler (backend torch, provider cuda): fp32 and fp16, batch 1 and 64 -> 4 devices,
#      each profiled (5 resolutions) and validated end to end on 100 random subnets (correction stored);
#   2. ONNX Runtime's CUDA provider, if onnxruntime-gpu installs (into a side venv: it cannot share one
#      with the CPU onnxruntime): fp32, batch 1, profiled and validated the same way;
#   3. the tests that need CUDA (TensorRT engine build/timing too, if `pip install tensorrt` works there).
# Every device goes to OUT/<name>; summary.json there collects the validation figures.
#
# Usage: scripts/gpu_profile.sh [OUT]     (default OUT: gpu-devices/<GPU name>-<date>; PYTHON=.venv/bin/python)
#        SAMPLES=100 RESOLUTIONS="160 176 192 208 224" scripts/gpu_profile.sh
# Resumable: rerun the same command and finished tables/validations are kept.
# Not run by its author: no GPU was lent to the session that wrote it (issue 13); written from the
# commands' documented flags (hwnas profile / validate-latency --help) and checked with `bash -n`.
set -euo pipefail
case "${1:-}" in "") OUT_ARG="" ;; /*) OUT_ARG=$1 ;; *) OUT_ARG="$(pwd)/$1" ;; esac  # before the cd
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SAMPLES=${SAMPLES:-100}
RESOLUTIONS=${RESOLUTIONS:-160 176 192 208 224}

die() { echo "gpu_profile: error: $*" >&2; exit 2; }
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this needs a machine with an NVIDIA GPU"
"$PY" -c 'import hwnas' 2>/dev/null || die "$PY cannot import hwnas; run 'make venv' first or set PYTHON"
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || die "$PY has no CUDA torch (torch.cuda.is_available() is False); install one, e.g.:
  $PY -m pip install torch --index-url https://download.pytorch.org/whl/cu124"

GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1 | tr -cs 'A-Za-z0-9' '-' | sed 's/-*$//')
OUT=${OUT_ARG:-gpu-devices/${GPU}-$(date -u +%Y%m%d)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "gpu_profile: GPU ${GPU}; devices go to ${OUT}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.csv"

# profile_and_validate NAME PYTHON [hwnas profile flags...]: build OUT/NAME, then validate it in place.
profile_and_validate() {
    local name=$1 py=$2; shift 2
    local dev="$OUT/$name"
    echo "== $name: profile"
    # shellcheck disable=SC2086  # RESOLUTIONS is a list of numbers
    "$py" -m hwnas profile --device "$name" --out "$dev" --resolutions $RESOLUTIONS "$@"
    echo "== $name: validate on $SAMPLES random subnets"
    "$py" -m hwnas validate-latency --device "$dev" --samples "$SAMPLES" --out "$dev" --json \
        > "$OUT/$name.validation.json"
    "$py" - "$OUT/$name.validation.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
loo = r["corrected_leave_one_out"]["within_10pct"]
print(f"   {r['device']}: table sum {r['table_sum']['within_10pct']:.0f}% within +-10%, corrected (leave-one-out) "
      f"{loo:.0f}% within +-10% (target >= 95%)")
EOF
}

for precision in fp32 fp16; do
    for batch in 1 64; do
        profile_and_validate "torch-cuda-${precision}-b${batch}" "$PY" \
            --backend torch --provider cuda --precision "$precision" --batch-size "$batch"
    done
done

# ONNX Runtime's CUDA provider: onnxruntime-gpu in a side venv (per-user cache) that sees the
# project's packages (torch with its CUDA libraries, hwnas, ...) behind its own onnxruntime: a .pth
# line adds the project's site-packages (and runs its .pth files) after the venv's own.
ORT_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/hwnas/venv-ort-gpu"
if [ ! -x "$ORT_VENV/bin/python" ]; then
    "$PY" -m venv "$ORT_VENV"
    BASE_SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    ORT_SITE=$("$ORT_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "import site; site.addsitedir('$BASE_SITE')" > "$ORT_SITE/hwnas-base.pth"
fi
ORT_PY="$ORT_VENV/bin/python"
ORT_OK=0
# torch is imported first so that its CUDA/cuDNN libraries are loaded for onnxruntime-gpu too
if "$ORT_PY" -m pip install -q onnxruntime-gpu && "$ORT_PY" -c 'import torch, onnxruntime as o, sys
sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)'; then
    ORT_OK=1
    profile_and_validate "ort-cuda-fp32-b1" "$ORT_PY" --backend ort --provider cuda --precision fp32 --batch-size 1
else
    echo "gpu_profile: onnxruntime-gpu did not install or has no CUDAExecutionProvider here; skipped" >&2
fi

echo "== tests that need CUDA"
"$PY" -m pytest -q -ra tests/test_latency_profile.py -k "cuda or tensorrt"
if [ "$ORT_OK" = 1 ] && "$ORT_PY" -m pip install -q tensorrt; then
    "$ORT_PY" -m pytest -q -ra tests/test_latency_profile.py tests/test_export.py -k "cuda or tensorrt or trt"
else
    echo "gpu_profile: TensorRT (pip install tensorrt) not available; its tests skipped" >&2
fi

"$PY" - "$OUT" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = {p.name.removesuffix(".validation.json"): {k: json.loads(p.read_text())[k]
           for k in ("samples", "table_sum", "corrected_leave_one_out", "correction")}
           for p in sorted(out.glob("*.validation.json"))}
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
print(f"gpu_profile: {len(summary)} devices validated; summary: {out / 'summary.json'}")
EOF
