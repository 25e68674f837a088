"""The LoRA step: learning happens in the adapter, never in the base, identically every time."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from tasks.families import generate_many
from validator.model.evaluate import BASE_ADAPTER, evaluate
from validator.model.recipe import TrainRecipe, format_pair
from validator.model.train import (
    ADAPTER_NAME,
    lora_adapter,
    lora_adapters,
    release,
    select_rows,
    train_lora,
    train_loras,
)

# Few steps on small batches: the mechanics (masking, determinism, base untouched) do not
# need the production step count.
FAST_RECIPE = TrainRecipe(steps=4, batch_size=4)

GOLDEN = Path(__file__).with_name("golden_losses.json")
# CPU kernels can differ in the last bits across machines and thread counts; a real change
# to the recipe or the masking moves losses by far more than this.
GOLDEN_RTOL = 1e-4


def _pairs(seed: int = 11, n: int = 16) -> list[tuple[str, str]]:
    return [format_pair(item) for item in generate_many(seed, n)]


def _base_snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_one_step_changes_adapter_and_not_base(tiny_random) -> None:
    model, tok = tiny_random
    before = _base_snapshot(model)
    result = train_lora(model, tok, _pairs(), TrainRecipe(steps=1, batch_size=4))
    try:
        adapter = result.adapter_state()
        lora_b = {k: v for k, v in adapter.items() if "lora_B" in k}
        assert lora_b, "no LoRA B weights found"
        # B starts at zero, so any non-zero B entry is the step's doing.
        assert all(v.abs().sum() > 0 for v in lora_b.values())
        for name, p in result.model.named_parameters():
            assert p.requires_grad == ("lora_" in name), name
    finally:
        base = release(result)
    assert base is model
    assert not isinstance(base, PeftModel)
    assert not hasattr(base, "peft_config")
    after = base.state_dict()
    assert before.keys() == after.keys()
    for k, v in before.items():
        assert torch.equal(v, after[k]), f"base weight {k} changed"


def test_release_leaves_plain_modules_for_the_next_miner(tiny_random) -> None:
    model, tok = tiny_random
    with lora_adapter(model, tok, _pairs(), FAST_RECIPE):
        pass
    assert type(model.model.layers[0].self_attn.q_proj) is torch.nn.Linear
    again = train_lora(model, tok, _pairs(), FAST_RECIPE)  # wraps cleanly a second time
    release(again)


def test_training_a_wrapped_model_is_refused(tiny_random) -> None:
    model, tok = tiny_random
    result = train_lora(model, tok, _pairs(), FAST_RECIPE)
    try:
        with pytest.raises(ValueError, match="still wraps an adapter"):
            train_lora(result.model, tok, _pairs(), FAST_RECIPE)
    finally:
        release(result)


def test_losses_match_golden_file(tiny_random) -> None:
    model, tok = tiny_random
    with lora_adapter(model, tok, _pairs(), FAST_RECIPE) as result:
        losses = result.per_step_losses
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps({"recipe": FAST_RECIPE.to_dict(), "losses": losses}, indent=1))
    golden = json.loads(GOLDEN.read_text())
    assert golden["recipe"] == FAST_RECIPE.to_dict(), "recipe changed: regenerate and explain"
    assert losses == pytest.approx(golden["losses"], rel=GOLDEN_RTOL)


def test_same_inputs_give_bit_identical_losses_adapters_and_eval(tiny_random) -> None:
    model, tok = tiny_random
    items = generate_many(99, 6, near_misses=3)  # finite contrast margins, compared too
    runs = []
    for _ in range(2):
        with lora_adapter(model, tok, _pairs(), FAST_RECIPE) as result:
            ev = evaluate(
                result.eval_model(), tok, items, ["A short guard sentence."], max_new_tokens=12
            )
            runs.append((result.per_step_losses, result.adapter_state(), ev))
    (l1, a1, e1), (l2, a2, e2) = runs
    assert l1 == l2
    assert a1.keys() == a2.keys() and all(torch.equal(a1[k], a2[k]) for k in a1)
    assert e1 == e2


def test_token_budget_drops_samples_in_order(tiny_random) -> None:
    _, tok = tiny_random
    pairs = _pairs(n=40)
    budget = 1000
    rows, used, dropped, truncated = select_rows(tok, pairs, TrainRecipe(token_budget=budget))
    assert 0 < used <= budget
    assert len(rows) + dropped == len(pairs)
    assert dropped > 0 and truncated == 0
    # The admitted rows are exactly the first ones, in order.
    first, _, _, _ = select_rows(tok, pairs[: len(rows)], TrainRecipe(token_budget=budget))
    assert first == rows


def test_long_samples_are_cut_at_max_seq_len(tiny_random) -> None:
    _, tok = tiny_random
    rows, _, _, truncated = select_rows(tok, [("Q\n", "x" * 1000)], TrainRecipe(max_seq_len=64))
    assert truncated == 1 and len(rows[0][0]) == 64


def test_no_samples_means_no_steps_and_no_effect(tiny_random) -> None:
    model, tok = tiny_random
    with lora_adapter(model, tok, [], FAST_RECIPE) as result:
        assert result.per_step_losses == [] and result.tokens_used == 0
        assert all(
            torch.count_nonzero(v) == 0 for k, v in result.adapter_state().items() if "lora_B" in k
        )


def _renamed(state: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """Adapter weights keyed as if the adapter were called ``ADAPTER_NAME``."""
    return {k.replace(f".{name}.", f".{ADAPTER_NAME}."): v for k, v in state.items()}


def test_adapters_trained_side_by_side_equal_adapters_trained_alone(tiny_random) -> None:
    """Each adapter of one PeftModel is bit-identical to the one ``lora_adapter`` trains."""
    model, tok = tiny_random
    samples = {"m1": _pairs(11), "m2": _pairs(12, n=24), "m3": [], "m4": _pairs(11)}
    alone = {}
    for name, pairs in samples.items():
        with lora_adapter(model, tok, pairs, FAST_RECIPE) as result:
            alone[name] = (result, result.adapter_state())
    before = _base_snapshot(model)
    with lora_adapters(model, tok, samples, FAST_RECIPE) as trained:
        assert trained.names == list(samples)
        for name, (one, one_state) in alone.items():
            got = trained.trained[name]
            assert got.per_step_losses == one.per_step_losses, name
            assert (got.tokens_used, got.samples_used) == (one.tokens_used, one.samples_used)
            assert (got.dropped, got.truncated) == (one.dropped, one.truncated)
            state = _renamed(trained.adapter_state(name), name)
            assert state.keys() == one_state.keys(), name
            assert all(torch.equal(v, one_state[k]) for k, v in state.items()), name
    # Same data, same seed, any place in the order: the same adapter; no data: no steps.
    assert trained.trained["m3"].per_step_losses == []
    assert trained.trained["m1"].per_step_losses == trained.trained["m4"].per_step_losses
    assert type(model.model.layers[0].self_attn.q_proj) is torch.nn.Linear
    assert not hasattr(model, "peft_config")
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_unusable_adapter_names_are_refused(tiny_random) -> None:
    model, tok = tiny_random
    for names in ([], ["a.b"], [BASE_ADAPTER], ["ora"], [""]):
        with pytest.raises(ValueError, match="no adapters to train|unusable adapter name"):
            train_loras(model, tok, {n: _pairs() for n in names}, FAST_RECIPE)
    assert not isinstance(model, PeftModel) and not hasattr(model, "peft_config")


def test_a_failure_midway_leaves_the_base_unwrapped(tiny_random) -> None:
    model, tok = tiny_random
    broken = {"m1": _pairs(), "m2": [("only a prompt",)]}  # the second adapter's data is bad
    with pytest.raises(ValueError, match="not enough values to unpack"):  # m2's rows, after m1
        train_loras(model, tok, broken, FAST_RECIPE)  # type: ignore[arg-type]
    assert type(model.model.layers[0].self_attn.q_proj) is torch.nn.Linear
    assert not hasattr(model, "peft_config")
    release(train_lora(model, tok, _pairs(), FAST_RECIPE))  # wraps cleanly again
