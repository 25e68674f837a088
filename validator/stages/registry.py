"""The competitions a validator can run: one entry per ``Stage``, with its settings.

Adding a competition: a module with a ``Stage`` subclass, its settings as a field of
``StageConfigs``, and one entry in ``_FACTORIES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocol.schemas import Competition
from validator.stages.cot import CotConfig, CotStage
from validator.stages.preference import PreferenceStage
from validator.stages.preference_measure import PreferenceConfig
from validator.stages.stage import Stage, StageInputs


@dataclass
class StageConfigs:
    """Every competition's settings, built once by the entry point."""

    cot: CotConfig
    preference: PreferenceConfig = field(default_factory=PreferenceConfig)


StageFactory = Callable[[StageInputs, StageConfigs], Stage[Any, Any]]

_FACTORIES: dict[Competition, StageFactory] = {
    Competition.COT_SFT: lambda inputs, configs: CotStage(inputs, configs.cot),
    Competition.PREFERENCE: lambda inputs, configs: PreferenceStage(inputs, configs.preference),
}


def build_stage(
    competition: Competition, inputs: StageInputs, configs: StageConfigs
) -> Stage[Any, Any]:
    """The stage that runs ``competition`` for the round ``inputs`` describe."""
    factory = _FACTORIES.get(competition)
    if factory is None:
        known = ", ".join(c.value for c in _FACTORIES)
        raise KeyError(f"no stage for competition {competition!r}; known: {known}")
    return factory(inputs, configs)


def competitions() -> tuple[Competition, ...]:
    """The registered competitions, in the order a round runs them (CoT first)."""
    return tuple(_FACTORIES)
