"""The quality ladder: does the score order five miners by data quality?

Run: ``.venv/bin/python bench/bench_ladder.py [--seeds 5] [--first-seed 0] [--model tiny]
[--out FILE.json]``

Five rungs (``localnet/ladder.py``): correct worked solutions; correct answers with scrambled
reasoning; plausible but wrong answers; fluent off-topic text; near-empty samples. Per data
seed, one ladder round on validator A's eval set: Spearman's rho between the rungs' scores
and the true order, on the score a round gives (floored at 0) and on the same before the
floor ("signed": what the model's numbers say, used to order rungs that all earn 0). Then
validator B (another secret, so another eval set) scores the same data: Kendall's tau
between A's and B's orders. Finally the first seed is run again by A: scores must be
identical.

Issue 5's targets: rho >= 0.9 in each seed; tau >= 0.8; the repeat identical. The recipe's
constants (pretraining steps, the answer-loss weight, the general-text tolerance) were chosen
on data seeds 0-7; ``--first-seed 10`` measures on seeds none of them was chosen on.
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


def _deltas(results: list[RungResult]) -> str:
    """Per rung: completion-loss, answer-loss and general-text deltas (what the rule weighs)."""
    cells = []
    for r in results:
        c = r.components
        if "loss_delta" in c:
            cells.append(
                f"{r.quality.value}: loss {c['loss_delta']:+.4f} answer {c['answer_loss_delta']:+.4f}"
                f" general {c['general_loss_increase']:+.4f}"
            )
    return "; ".join(cells)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=5, help="data seeds (one ladder round each)")
    ap.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="first data seed (10 gives seeds no constant of the recipe was chosen on)",
    )
    ap.add_argument("--model", default="tiny", help="base model (default: the embedded tiny)")
    ap.add_argument("--out", type=Path, default=None, help="write every number as JSON here")
    args = ap.parse_args()
    model, tokenizer = load_base(args.model, "cpu")
    rows: list[dict[str, object]] = []
    rhos: list[float] = []
    taus: list[float] = []
    report: dict[str, object] = {"rungs": [q.value for q in RUNGS], "seeds": rows}
    t0 = time.perf_counter()
    first: list[RungResult] = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
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
        rows.append(row)
        rhos.append(spearman_to_ladder([r.signed for r in a]))
        taus.append(kendall_between([r.signed for r in a], [r.signed for r in b]))
        print(f"seed {seed}: A {_row(a)}")
        print(f"         A deltas  {_deltas(a)}")
        print(f"         B {_row(b)}")
        print(
            f"         rho(score) {row['rho_score']:.3f}  rho(signed) A {row['rho_signed']:.3f} "
            f"B {row['rho_signed_b']:.3f}  tau(A,B) signed {row['tau_ab_signed']:.3f} "
            f"score {row['tau_ab_score']:.3f}",
            flush=True,
        )
    seed = args.first_seed
    again = ladder_round(model, tokenizer, SECRET_A, f"ladder-{seed}", f"ladder-data-{seed}")
    identical = [(r.score, r.signed) for r in again] == [(r.score, r.signed) for r in first]
    report["repeat_identical"] = identical
    report["seconds"] = time.perf_counter() - t0
    print(f"repeat of seed {args.first_seed} identical: {identical}   ({report['seconds']:.0f} s)")
    worst_rho, worst_tau = min(rhos), min(taus)
    print(
        f"targets (issue 5): rho >= 0.9 every seed: {worst_rho >= 0.9} (worst {worst_rho:.3f}); "
        f"tau >= 0.8: {worst_tau >= 0.8} (worst {worst_tau:.3f}); repeat identical: {identical}"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
