#!/usr/bin/env bash
# Everything perfopt measures on a GPU machine, in one call:
#
#   scripts/device_check.sh              on the GPU machine (first, on a machine with a
#                                        package index: scripts/device_wheels.sh -> .whl/)
#   scripts/device_check.sh --rehearse   on any machine: smaller sizes; without CUDA the
#                                        GPU tests and the CUDA cells skip with the reason
#
# Steps: install the carried wheels when optuna is missing (into a temporary folder), write
# what the machine is, run the GPU tests, run the `device` matrix preset, write its report
# (also from a matrix cut short by its time limit). Everything lands under $OUT (default
# runs/device-check): machine.txt, gpu-tests.log, run/results.jsonl, run/REPORT.md,
# run/plots/, device_check.log. Time limits (seconds): T_TESTS (default 150) for the
# tests (0 skips them), T_MATRIX (default 360) for the matrix, so the whole call stays near
# 8 minutes. MATRIX_ARGS adds matrix options for a follow-up call, e.g.
# MATRIX_ARGS="--only optimize-scaling --until-ci 10 --max-repeats 10 --budget 300".
# PERFOPT_GIT_COMMIT names the commit when the checkout has no .git folder.
set -uo pipefail
cd "$(dirname "$0")/.."
REHEARSE=0
case "${1:-}" in
    --rehearse) REHEARSE=1 ;;
    "") ;;
    *) echo "usage: scripts/device_check.sh [--rehearse]" >&2; exit 2 ;;
esac
OUT=${OUT:-$PWD/runs/device-check}
PY=${PYTHON:-python3}
T_TESTS=${T_TESTS:-150}
T_MATRIX=${T_MATRIX:-360}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export PERFOPT_CACHE_DIR=${PERFOPT_CACHE_DIR:-/tmp/perfopt-cache}
START=$(date +%s)
log() { echo "[device_check +$(($(date +%s) - START))s] $*" | tee -a "$OUT/device_check.log"; }

# 1. what this interpreter lacks, from the carried wheels (nothing is fetched)
if ! $PY -c "import optuna" 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        log "optuna is missing and .whl/ holds no wheels: run scripts/device_wheels.sh first"
        exit 2
    fi
    SITE=$(mktemp -d /tmp/perfopt-site.XXXXXX)
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" .whl/*.whl || { log "installing the wheels failed"; exit 2; }
    export PYTHONPATH="$SITE"
    log "installed $(ls .whl/*.whl | wc -l) wheels into $SITE"
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

# 2. the machine, for the report's readers
{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "memory: $(free -g 2>/dev/null | awk '/Mem:/ {print $2 " GiB"}')"
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
        --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
    $PY - <<'PYEOF' 2>&1
import platform
import torch
print("python:", platform.python_version(), "torch:", torch.__version__,
      "cuda:", torch.version.cuda, "available:", torch.cuda.is_available())
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device:", p.name, f"{p.total_memory / 2**30:.0f} GiB,", p.multi_processor_count, "SMs")
PYEOF
} > "$OUT/machine.txt"
log "machine: $(tr '\n' ';' < "$OUT/machine.txt")"

# 3. the CUDA tests (they skip with the reason without CUDA)
if [ "$T_TESTS" -gt 0 ]; then
    log "GPU tests (limit ${T_TESTS} s)"
    timeout -k 10 "$T_TESTS" $PY -m pytest -m gpu tests/gpu -p no:cacheprovider -q -rA \
        > "$OUT/gpu-tests.log" 2>&1
    log "GPU tests: exit $? ($(tail -n 1 "$OUT/gpu-tests.log"))"
else
    log "GPU tests skipped (T_TESTS=0)"
fi

# 4. the device matrix (smaller sizes when rehearsing)
PRESET=device
if [ "$REHEARSE" = 1 ]; then
    PRESET="$OUT/device-rehearsal.toml"
    sed -e 's/n_trials = 24/n_trials = 6/' -e 's/games = 16/games = 4/' \
        -e 's/samples = 4096/samples = 512/' -e 's/seq_len = 360/seq_len = 32/' \
        -e 's/features = 167/features = 16/' -e 's/hidden = 128/hidden = 32/' \
        src/perfopt/harness/presets/device.toml > "$PRESET"
fi
# MATRIX_ARGS is split on spaces on purpose: it holds options, not paths
read -r -a EXTRA <<< "${MATRIX_ARGS:-}"
log "matrix --preset $PRESET ${EXTRA[*]} (limit ${T_MATRIX} s)"
rm -rf "$OUT/run"
# SIGINT at the limit: perfopt kills the running cell and keeps every finished grid
timeout -s INT -k 30 "$T_MATRIX" $PY -m perfopt matrix --preset "$PRESET" --out "$OUT/run" \
    "${EXTRA[@]}" > "$OUT/matrix.log" 2>&1
log "matrix: exit $? ($(grep -c '' "$OUT/run/results.jsonl" 2>/dev/null || echo 0) cells recorded)"

# 5. the report, from whatever the matrix recorded
if [ -s "$OUT/run/results.jsonl" ]; then
    $PY -m perfopt report "$OUT/run/results.jsonl" >> "$OUT/device_check.log" 2>&1
    log "report: $OUT/run/REPORT.md"
    sed -n '/^## Target verdicts/,/^## /p' "$OUT/run/REPORT.md" | grep '^| ' | cut -c1-160
else
    log "no cell finished: no report"
fi
rm -rf "$OUT/run/cells/"*/work 2>/dev/null
log "done in $(($(date +%s) - START)) s"
