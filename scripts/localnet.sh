#!/usr/bin/env bash
# Run the local network end to end: embedded Redis and chain, demo miners, a validator, the API.
# Installs what it needs first. Flags go to neurons/localnet.py (see --help); --serve keeps
# the API up after the rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export BITTENSOR_RUNTIME_CACHE_DIR="${BITTENSOR_RUNTIME_CACHE_DIR:-$PWD/.cache/bittensor}"
export BTCLI_TOKEN_SYMBOLS_CACHE="${BTCLI_TOKEN_SYMBOLS_CACHE:-$PWD/.cache/bittensor/token_symbols.json}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
exec .venv/bin/python neurons/localnet.py "$@"
