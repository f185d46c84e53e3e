#!/usr/bin/env bash
# Build and validate hwnas' GPU devices in one command, on a machine with an NVIDIA GPU and CUDA torch:
#   1. the tests that need CUDA (pytest -k "cuda or tensorrt or trt"; TensorRT's skip without it);
#   2. PyTorch CUDA profiler (backend torch, provider cuda) for each of MODES (cudagraph: CUDA graph
#      replays, --cuda-graph; eager: eager launches), fp32 and fp16, batch 1 and 64 -> 4 devices
#      per mode, each profiled, validated on SAMPLES random subnets (seed 0: the correction is
#      fitted and stored) and scored on SAMPLES others (seed 1, held out);
#   3. ONNX Runtime's CUDA provider, only if a package index is reachable and onnxruntime-gpu installs
#      there (into a side venv: it cannot share one with the CPU onnxruntime): fp32, batch 1.
# Every device goes to OUT/<TAG>-<name> (TAG: the GPU model, e.g. h100); summary.json there
# collects the validation figures, tests.log the tests' output. Exit status 1 if a test or a device
# failed (the others still ran), 2 for a machine that cannot run it.
#
# Usage: scripts/gpu_profile.sh [OUT]     (default OUT: gpu-devices/<GPU name>-<date>; PYTHON=.venv/bin/python)
#        SAMPLES=100 RESOLUTIONS="160 176 192 208 224" PRECISIONS="fp32 fp16" BATCHES="1 64" \
#        MODES="cudagraph eager" GPU_TAG=h100 ORT_CUDA=auto|0 TESTS=1|0 scripts/gpu_profile.sh
# Resumable: rerun the same command and finished tables/validations are kept (validation's raw
# measurements live in the per-user cache, or $HWNAS_CACHE).
# Run on 2026-11-24 on one NVIDIA H100 80GB HBM3 (driver 580.159.04, torch 2.11.0+cu130, Python 3.12,
# 16-core VM, no network), defaults (SAMPLES=100, 5 resolutions, MODES=cudagraph), resumed over
# three calls of <= 10 min (later: PRECISIONS=fp16 [BATCHES=64] TESTS=0); an eager fp32 run is in
# docs/latency.md. All four devices: 100% within +-10% leave-one-out and held out; the CUDA tests
# passed; ORT-CUDA skipped (no package index; the onnxruntime-gpu wheel is too big to carry).
# Results: scripts/results/gpu_profile_h100.{json,log}; shipped as devices/h100-torch-cudagraph-*.
set -euo pipefail
case "${1:-}" in "") OUT_ARG="" ;; /*) OUT_ARG=$1 ;; *) OUT_ARG="$(pwd)/$1" ;; esac  # before the cd
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
SAMPLES=${SAMPLES:-100}
RESOLUTIONS=${RESOLUTIONS:-160 176 192 208 224}
PRECISIONS=${PRECISIONS:-fp32 fp16}
BATCHES=${BATCHES:-1 64}
ORT_CUDA=${ORT_CUDA:-auto}
MODES=${MODES:-cudagraph}

die() { echo "gpu_profile: error: $*" >&2; exit 2; }
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this needs a machine with an NVIDIA GPU"
"$PY" -c 'import hwnas' 2>/dev/null || die "$PY cannot import hwnas; run 'make venv' first or set PYTHON"
"$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || die "$PY has no CUDA torch (torch.cuda.is_available() is False); install one, e.g.:
  $PY -m pip install torch --index-url https://download.pytorch.org/whl/cu124"
case "$ORT_CUDA" in auto|0) ;; *) die "ORT_CUDA=$ORT_CUDA is not allowed; allowed: auto, 0" ;; esac
for mode in $MODES; do
    case "$mode" in cudagraph|eager) ;; *) die "MODES: $mode is not allowed; allowed: cudagraph, eager" ;; esac
done

GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n1)
GPU=$(echo "$GPU_NAME" | tr -cs 'A-Za-z0-9' '-' | sed 's/-*$//')
# "NVIDIA H100 80GB HBM3" -> h100
TAG=${GPU_TAG:-$(echo "$GPU_NAME" | sed 's/^NVIDIA //' | cut -d' ' -f1 | tr 'A-Z' 'a-z')}
OUT=${OUT_ARG:-gpu-devices/${GPU}-$(date -u +%Y%m%d)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "gpu_profile: GPU ${GPU_NAME}; devices go to ${OUT}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia-smi.csv"
STATUS=0

echo "== tests that need CUDA (log: $OUT/tests.log)"
if [ "${TESTS:-1}" = 0 ] && [ -f "$OUT/tests.rc" ]; then
    echo "   TESTS=0: kept the earlier run's result (exit status $(cat "$OUT/tests.rc"))"
elif "$PY" -m pytest -q -rs tests/test_latency_profile.py tests/test_profile_cli.py tests/test_export.py \
        -k "cuda or tensorrt or trt" > "$OUT/tests.log" 2>&1; then
    echo "0" > "$OUT/tests.rc"
else
    echo "$?" > "$OUT/tests.rc"
fi
[ "$(cat "$OUT/tests.rc")" = 0 ] || STATUS=1
tail -n 12 "$OUT/tests.log"

# profile_and_validate NAME PYTHON [hwnas profile flags...]: build OUT/NAME, fit its correction on
# seed 0 (stored in OUT/NAME), score that correction on seed 1. Returns 1 at the first failing step.
profile_and_validate() {
    local name=$1 py=$2; shift 2
    local dev="$OUT/$name" t0=$SECONDS
    echo "== $name: profile"
    # shellcheck disable=SC2086  # RESOLUTIONS is a list of numbers
    "$py" -m hwnas profile --device "$name" --out "$dev" --resolutions $RESOLUTIONS "$@" || return 1
    echo "== $name: validate on $SAMPLES random subnets (seed 0), then $SAMPLES held out (seed 1)"
    "$py" -m hwnas validate-latency --device "$dev" --samples "$SAMPLES" --out "$dev" --json \
        > "$OUT/$name.validation.json" || return 1
    "$py" -m hwnas validate-latency --device "$dev" --samples "$SAMPLES" --seed 1 --json \
        > "$OUT/$name.holdout.json" || return 1
    echo "$((SECONDS - t0))" > "$OUT/$name.seconds"
    "$py" - "$OUT/$name" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1] + ".validation.json"))
h = json.load(open(sys.argv[1] + ".holdout.json"))["previous_correction_accuracy"]
print(f"   {r['device']}: within +-10%: table sum {r['table_sum']['within_10pct']:.0f}%, corrected "
      f"(leave-one-out) {r['corrected_leave_one_out']['within_10pct']:.0f}%, held out "
      f"{h['within_10pct']:.0f}% (target >= 95%)")
EOF
}

for mode in $MODES; do
    case "$mode" in cudagraph) graph=--cuda-graph ;; eager) graph= ;; esac
    for precision in $PRECISIONS; do
        for batch in $BATCHES; do
            # shellcheck disable=SC2086  # $graph is one flag or none
            profile_and_validate "${TAG}-torch-${mode}-${precision}-b${batch}" "$PY" --backend torch \
                --provider cuda $graph --precision "$precision" --batch-size "$batch" || STATUS=1
        done
    done
done

# ONNX Runtime's CUDA provider: onnxruntime-gpu in a side venv (per-user cache) that sees the
# project's packages (torch with its CUDA libraries, hwnas, ...) behind its own onnxruntime: a .pth
# line adds the project's site-packages (and runs its .pth files) after the venv's own. Tried only
# where a package index answers: pip would otherwise spend minutes retrying.
ort_cuda_python() {
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/hwnas/venv-ort-gpu"
    [ "$ORT_CUDA" = auto ] || return 1
    "$PY" -m pip index versions onnxruntime-gpu --retries 0 --timeout 10 >/dev/null 2>&1 || return 1
    if [ ! -x "$venv/bin/python" ]; then
        "$PY" -m venv "$venv" || return 1
        local base_site ort_site
        base_site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        ort_site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        echo "import site; site.addsitedir('$base_site')" > "$ort_site/hwnas-base.pth"
    fi
    "$venv/bin/python" -m pip install -q onnxruntime-gpu || return 1
    # hwnas' own check that the CUDA provider really runs (torch, imported first, loads the CUDA
    # and cuDNN libraries onnxruntime-gpu needs)
    "$venv/bin/python" -c 'import torch
from latency.profilers import make_profiler
make_profiler("ort", provider="cuda")' >&2 || return 1
    echo "$venv/bin/python"
}
if ORT_PY=$(ort_cuda_python); then
    profile_and_validate "${TAG}-ort-cuda-fp32-b1" "$ORT_PY" --backend ort --provider cuda \
        --precision fp32 --batch-size 1 || STATUS=1
else
    echo "gpu_profile: ORT-CUDA skipped (ORT_CUDA=$ORT_CUDA; no package index reachable, or" \
         "onnxruntime-gpu did not install or has no CUDAExecutionProvider here)" >&2
fi

"$PY" - "$OUT" "$SAMPLES" "$RESOLUTIONS" <<'EOF'
import json, pathlib, sys
out, samples, resolutions = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split()
devices = {}
for p in sorted(out.glob("*.validation.json")):
    name = p.name.removesuffix(".validation.json")
    r = json.loads(p.read_text())
    d = {k: r[k] for k in ("samples", "measured_ms", "table_sum", "corrected_leave_one_out",
                           "correction")}
    held = out / f"{name}.holdout.json"
    if held.is_file():
        d["held_out_seed1"] = json.loads(held.read_text())["previous_correction_accuracy"]
    secs = out / f"{name}.seconds"
    d["seconds_profile_and_validate"] = int(secs.read_text()) if secs.is_file() else None
    devices[name] = d
summary = {"gpu": (out / "nvidia-smi.csv").read_text().splitlines()[1:],
           "samples": samples, "resolutions": [int(r) for r in resolutions],
           "tests_exit_status": int((out / "tests.rc").read_text()), "devices": devices}
(out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
print(f"gpu_profile: {len(devices)} devices validated; summary: {out / 'summary.json'}")
EOF
exit "$STATUS"
