"""The stage registry: one entry per competition, built per round, an unknown one named."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from protocol.schemas import Competition
from validator.evalsets.pool import EvalPool
from validator.stages.cot import CotConfig, CotStage
from validator.stages.preference import PreferenceStage
from validator.stages.registry import StageConfigs, build_stage, competitions
from validator.stages.screening import DedupHistory
from validator.stages.stage import Stage, StageInputs
from validator.store.run_log import RoundDir


def _inputs(tmp_path: Path) -> StageInputs:
    return StageInputs(
        round_id="r1",
        run=RoundDir(tmp_path, "r1"),
        secret="registry-secret",
        model=None,
        tokenizer=None,
        history=cast(DedupHistory, None),  # not touched: no stage step runs here
        general_texts=(),
        samples_per_miner=4,
    )


def test_every_competition_has_a_stage_cot_first(tmp_path: Path) -> None:
    assert competitions() == (Competition.COT_SFT, Competition.PREFERENCE)
    assert set(competitions()) == set(Competition)
    configs = StageConfigs(cot=CotConfig(EvalPool("registry-secret"), eval_items=8))
    stages: dict[Competition, Stage[Any, Any]] = {
        c: build_stage(c, _inputs(tmp_path), configs) for c in competitions()
    }
    assert isinstance(stages[Competition.COT_SFT], CotStage)
    assert isinstance(stages[Competition.PREFERENCE], PreferenceStage)
    for competition, stage in stages.items():
        assert stage.competition == competition
    # Step 1 of each: the held-out set from the secret and the round, the same on a redraw.
    assert len(stages[Competition.COT_SFT].eval_set().items) == 8
    pref = stages[Competition.PREFERENCE]
    assert pref.eval_set() == pref.eval_set()


def test_an_unknown_competition_is_named_with_the_known_ones(tmp_path: Path) -> None:
    configs = StageConfigs(cot=CotConfig(EvalPool("registry-secret"), eval_items=8))
    with pytest.raises(KeyError, match="known: cot_sft, preference"):
        build_stage(cast(Competition, "code_sft"), _inputs(tmp_path), configs)


def test_the_secret_stays_out_of_the_inputs_repr(tmp_path: Path) -> None:
    assert "registry-secret" not in repr(_inputs(tmp_path))
