#!/usr/bin/env bash
# Download, on this machine, the wheels that scripts/device_check.sh installs on a GPU
# machine that has no package index: Python 3.12, x86-64 Linux, into .whl/ (ignored by
# git). The GPU machine already has torch, numpy, pandas, pyarrow, h5py, numba, scipy,
# psutil, matplotlib, tqdm, threadpoolctl, PyYAML and pytest; these are what perfopt
# needs besides them. Versions are the ones this checkout's .venv runs (or the pins below).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEST=.whl
mkdir -p "$DEST"
version() {  # the version installed in .venv, else the fallback given
    local v
    v=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null) || v=$2
    echo "$v"
}
PKGS=(
    "optuna==$(version optuna 5.1.0)"
    "alembic==$(version alembic 1.20.1)"
    "sqlalchemy==$(version sqlalchemy 2.1.9)"
    "mako==$(version mako 1.4.3)"
    "colorlog==$(version colorlog 6.12.0)"
    "cmaes==$(version cmaes 0.13.1)"
)
PLATFORMS=()
for n in 17 24 27 28 31 34; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
PLATFORMS+=(--platform manylinux2014_x86_64 --platform manylinux1_x86_64)
rm -f "$DEST"/*.whl
for pkg in "${PKGS[@]}"; do
    $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp "${PLATFORMS[@]}" -d "$DEST" "$pkg"
done
ls -1 "$DEST"
du -sh "$DEST"
