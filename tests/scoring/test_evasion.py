"""The evasion suite: every perturbation kind against dedup and the gate (figures with -s).

Targets (issue 11), per kind, over 500 task items and 500 1 KB paragraphs: dedup recall >= 0.95
in the round and against history, false positives <= 1% on distinct items of the same
families; gate recall >= 0.95 per item, false positives <= 1% on honest generator data.
The answer check's figures are printed, not asserted here: ``tasks/solve.py`` is measured as
it stands (bench/bench_evasion.py prints the table, docs/SCREENING.md has it).
"""

from __future__ import annotations

import pytest

from scoring.contamination import EvalPoolIndex
from tests.support.evasion import Data, eval_pool, free_data, measure, task_data
from tests.support.perturb import KIND_NAMES

N = 500  # the sample size per data set


@pytest.fixture(scope="module")
def sets() -> dict[str, tuple[Data, EvalPoolIndex]]:
    out = {}
    for data in (task_data(N), free_data(N)):
        out[data.name] = (data, eval_pool(data))
    return out


@pytest.mark.parametrize("name", ["task", "free"])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_kind_is_caught(sets: dict[str, tuple[Data, EvalPoolIndex]], name: str, kind: str) -> None:
    data, pool = sets[name]
    figures = measure(data, kind, pool)
    print(f"\n{name} {kind}: " + " ".join(f"{k} {v:.3f}" for k, v in figures.items()))
    assert figures["dedup_round"] >= 0.95
    assert figures["dedup_history"] >= 0.95
    assert figures["dedup_fp"] <= 0.01
    assert figures["gate"] >= 0.95
    assert figures["gate_fp"] <= 0.01
