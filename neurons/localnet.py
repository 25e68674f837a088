"""Run the whole network on this machine: chain, Redis, five demo miners, a validator, the API.

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

from localnet.audit import report_commitments_and_audit
from localnet.network import free_port, start
from localnet.report import (
    fetch_leaderboards,
    format_leaderboards,
    format_weights,
    model_alone,
    uids_by_name,
    verdict,
)
from protocol.redis_conn import configured_url, exit_on_sigterm
from validator.config import ExecutorKind
from validator.evalsets.cot import EVAL_SIZE
from validator.round import RoundContext
from validator.service import build, close, run_rounds, serve_api_in_background


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Datacomp subnet: the local network, end to end")
    parser.add_argument("--rounds", type=int, default=3, help="validator rounds to run")
    parser.add_argument("--samples", type=int, default=64, help="samples asked of each miner")
    parser.add_argument(
        "--eval-items", type=int, default=EVAL_SIZE, help="held-out eval items per round"
    )
    parser.add_argument(
        "--workdir", type=Path, default=Path(".localnet"), help="state, logs, round dirs"
    )
    parser.add_argument("--api-port", type=int, default=0, help="API port (0: a free one)")
    parser.add_argument("--serve", action="store_true", help="keep the API up after the rounds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--executor",
        choices=[k.value for k in ExecutorKind],
        default=ExecutorKind.LOCAL.value,
        help="where each miner's train + measure runs: this process, or a local Ray cluster",
    )
    parser.add_argument(
        "--executor-threads",
        type=int,
        default=None,
        help="torch threads per training job (ray: 1 unless set); same count, same numbers",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 when the demo came out as its cast says, 1 when not."""
    args = _parser().parse_args(argv)
    exit_on_sigterm()  # docker and systemd stop with SIGTERM: the finally below must run
    redis_where = "REDIS_URL" if configured_url() else "embedded"
    print(f"starting Redis ({redis_where}), the local chain and 5 miners ...", flush=True)
    network = start(args.workdir, args.eval_items)
    problems: list[str] = []
    ctx: RoundContext | None = None
    try:
        hotkeys: list[tuple[str, str]] = []
        for name, port in network.miners.items():
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()
            hotkeys.append((name, health["hotkey"]))
            print(f"  miner {name:<13} 127.0.0.1:{port}  {health['hotkey']}  {health['status']}")
        settings = network.validator_settings(
            rounds=args.rounds,
            samples_per_miner=args.samples,
            eval_items=args.eval_items,
            api_port=args.api_port or free_port(),
            progress=not args.no_progress,
            executor=ExecutorKind(args.executor),
            executor_threads=args.executor_threads,
        )
        print("loading the validator's base model (built and cached on first use) ...", flush=True)
        ctx, store = build(settings)
        serve_api_in_background(store, settings.api_host, settings.api_port, settings.run_dir)
        api = f"http://{settings.api_host}:{settings.api_port}"
        records = run_rounds(ctx, settings.rounds, settings.round_interval_s)
        print(format_leaderboards(fetch_leaderboards(api), {h: n for n, h in hotkeys}))
        uids = uids_by_name(hotkeys, {n.hotkey: n.uid for n in ctx.chain.metagraph()})
        print("\n" + format_weights(records[-1].weights, uids))
        problems = verdict(records, uids)
        for line in model_alone(records, uids):
            print(f"model alone (issue 10): {line}")
        for problem in problems:
            print(f"UNEXPECTED: {problem}")
        if not problems:
            print(
                "As expected: honest holds the most weight; sloppy, copycat and contaminator"
                " under 5% of it; sloppy earns 0 on CoT."
            )
        problems += report_commitments_and_audit(
            records, settings.run_dir, network.chain_path, hotkeys
        )
        print(f"\nAPI: {api}/v1/...   leaderboard page: {api}/   round logs: {settings.run_dir}")
        if args.serve:
            print("serving; Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if ctx is not None:
            close(ctx)
        network.stop()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
