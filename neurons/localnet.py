"""Run the whole network on this machine: chain, Redis, four demo miners, a validator, the API.

    python neurons/localnet.py [--rounds 3] [--serve]

Wiring only: localnet/network.py starts the parts; the validator runs in this process.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from localnet.network import free_port, start
from validator.service import build, run_rounds, serve_api_in_background


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Datacomp subnet: the local network, end to end")
    parser.add_argument("--rounds", type=int, default=3, help="validator rounds to run")
    parser.add_argument("--samples", type=int, default=64, help="samples asked of each miner")
    parser.add_argument("--eval-items", type=int, default=64, help="held-out eval items per round")
    parser.add_argument(
        "--workdir", type=Path, default=Path(".localnet"), help="state, logs, round dirs"
    )
    parser.add_argument("--api-port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--serve", action="store_true", help="keep the API up after the rounds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _print_leaderboard(api: str) -> None:
    page = httpx.get(f"{api}/v1/competitions/cot_sft/leaderboard", timeout=10).json()
    print(f"\nLeaderboard (cot_sft), from {api}/v1/competitions/cot_sft/leaderboard")
    print(f"{'rank':>4}  {'uid':>3}  {'hotkey':<14} {'ema':>8} {'last':>8} {'weight':>7}  status")
    for row in page["rows"]:
        print(
            f"{row['rank']:>4}  {row['uid']:>3}  {row['hotkey'][:12] + '..':<14} {row['ema']:>8.4f} "
            f"{row['score']:>8.4f} {row['weight']:>7.3f}  {row['status']}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point."""
    args = _parser().parse_args(argv)
    print("starting Redis (embedded), the local chain and 4 miners ...", flush=True)
    network = start(args.workdir, args.eval_items)
    try:
        for name, port in network.miners.items():
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            print(f"  miner {name:<13} 127.0.0.1:{port}  {health['hotkey']}  {health['status']}")
        settings = network.validator_settings(
            rounds=args.rounds,
            samples_per_miner=args.samples,
            eval_items=args.eval_items,
            api_port=args.api_port or free_port(),
            progress=not args.no_progress,
        )
        print("loading the validator's base model (built and cached on first use) ...", flush=True)
        ctx, store = build(settings)
        serve_api_in_background(store, settings.api_host, settings.api_port)
        api = f"http://{settings.api_host}:{settings.api_port}"
        run_rounds(ctx, settings.rounds, settings.round_interval_s)
        _print_leaderboard(api)
        print(f"\nAPI: {api}/v1/...   leaderboard page: {api}/   round logs: {settings.run_dir}")
        if args.serve:
            print("serving; Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        network.stop()


if __name__ == "__main__":
    main()
