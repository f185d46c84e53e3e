#!/bin/sh
# Rebuild the shipped devices/cpu-ort, on an idle machine of the target kind:
#   1. profile 5 resolutions into a fresh temporary folder (never into devices/),
#   2. validate on 100 random subnets (seed 0) and store the fitted correction in that folder,
#   3. score it on 100 held-out subnets (seed 1);
# figures go to scripts/results/latency_bench.json. Only with --install are the tables, device.yaml
# and validation.json copied into devices/cpu-ort (then review `git diff` and commit).
# Usage: sh scripts/rebuild_cpu_ort.sh [--install]      (make rebuild-cpu-ort [INSTALL=1])
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
case "${1:-}" in ""|--install) ;; *) echo "usage: $0 [--install]" >&2; exit 2 ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hwnas-rebuild.XXXXXX")
DEV="$WORK/cpu-ort"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
"$PY" scripts/bench_latency.py --steps build --out "$DEV" --device-name cpu-ort
"$PY" scripts/bench_latency.py --steps validate,holdout --out "$DEV"
echo "rebuilt device: $DEV (figures: scripts/results/latency_bench.json)"
if [ "${1:-}" = "--install" ]; then
    rm -f devices/cpu-ort/*_lookup_table.yaml
    cp "$DEV"/*_lookup_table.yaml "$DEV/device.yaml" "$DEV/validation.json" devices/cpu-ort/
    chmod 0644 devices/cpu-ort/*
    echo "installed into devices/cpu-ort; review with: git diff --stat devices/cpu-ort"
else
    echo "not installed (devices/cpu-ort unchanged); rerun with --install to copy it there"
fi
