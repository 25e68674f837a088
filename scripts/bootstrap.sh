#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment and install what it needs.
#   scripts/bootstrap.sh          runtime dependencies (CPU torch)
#   scripts/bootstrap.sh dev      plus the test and lint tools
# GPU nodes: see README.md, "GPU validator" (install the CUDA torch build first; this script
# keeps whatever torch is already in the venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip() { "$VENV/bin/python" -m pip -q --disable-pip-version-check "$@"; }
stamp="$VENV/.datacomp-installed-$(sha256sum pyproject.toml | cut -c1-16)-${1:-run}"
if [ -f "$stamp" ]; then exit 0; fi
# torch first, pinned: the CPU wheel (2.13.0). An unpinned torch pulls a multi-GB CUDA build.
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  pip install "torch==${TORCH_VERSION:-2.13.0}" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
fi
if [ "${1:-}" = "dev" ]; then
  pip install -e ".[dev]"
else
  pip install -e .
fi
touch "$stamp"
