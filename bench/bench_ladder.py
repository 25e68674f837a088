"""The quality ladder: does the score order five miners by data quality?

Run: ``.venv/bin/python bench/bench_ladder.py [--seeds 5] [--model tiny] [--out FILE.json]``

Five rungs (``localnet/ladder.py``): correct worked solutions; correct answers with scrambled
reasoning; plausible but wrong answers; fluent off-topic text; near-empty samples. Per data
seed, one ladder round on validator A's eval set: Spearman's rho between the rungs' scores
and the true order, on the score a round gives (floored at 0) and on the same before the
floor ("signed": what the model's numbers say, used to order rungs that all earn 0). Then
validator B (another secret, so another eval set) scores the same data: Kendall's tau
between A's and B's orders. Finally seed 0 is run again by A: scores must be identical.

Issue 5's targets: rho >= 0.9 in each seed; tau >= 0.8; the repeat identical.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from localnet.ladder import RUNGS, RungResult, kendall_between, ladder_round, spearman_to_ladder
from validator.model.base import load_base

SECRET_A = "ladder-validator-a"  # two validators: different secrets, different eval sets
SECRET_B = "ladder-validator-b"


def _row(results: list[RungResult]) -> str:
    return "  ".join(f"{r.quality.value}={r.score:.4f}({r.signed:+.4f})" for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5, help="data seeds (one ladder round each)")
    ap.add_argument("--model", default="tiny", help="base model (default: the embedded tiny)")
    ap.add_argument("--out", type=Path, default=None, help="write every number as JSON here")
    args = ap.parse_args()
    model, tokenizer = load_base(args.model, "cpu")
    report: dict[str, object] = {"rungs": [q.value for q in RUNGS], "seeds": []}
    t0 = time.perf_counter()
    first: list[RungResult] = []
    for seed in range(args.seeds):
        round_id, data_seed = f"ladder-{seed}", f"ladder-data-{seed}"
        a = ladder_round(model, tokenizer, SECRET_A, round_id, data_seed)
        b = ladder_round(model, tokenizer, SECRET_B, round_id, data_seed)
        first = first or a
        row = {
            "seed": seed,
            "a": [(r.score, r.signed) for r in a],
            "b": [(r.score, r.signed) for r in b],
            "rho_score": spearman_to_ladder([r.score for r in a]),
            "rho_signed": spearman_to_ladder([r.signed for r in a]),
            "rho_signed_b": spearman_to_ladder([r.signed for r in b]),
            "tau_ab_signed": kendall_between([r.signed for r in a], [r.signed for r in b]),
            "tau_ab_score": kendall_between([r.score for r in a], [r.score for r in b]),
        }
        report["seeds"].append(row)  # type: ignore[attr-defined]
        print(f"seed {seed}: A {_row(a)}")
        print(f"         B {_row(b)}")
        print(
            f"         rho(score) {row['rho_score']:.3f}  rho(signed) A {row['rho_signed']:.3f} "
            f"B {row['rho_signed_b']:.3f}  tau(A,B) signed {row['tau_ab_signed']:.3f} "
            f"score {row['tau_ab_score']:.3f}",
            flush=True,
        )
    again = ladder_round(model, tokenizer, SECRET_A, "ladder-0", "ladder-data-0")
    identical = [(r.score, r.signed) for r in again] == [(r.score, r.signed) for r in first]
    report["repeat_identical"] = identical
    report["seconds"] = time.perf_counter() - t0
    print(f"repeat of seed 0 identical: {identical}   ({report['seconds']:.0f} s)")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
