"""The forward pass: generations, answer extraction, per-item losses, and a learning signal."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import torch

from tasks.families import TaskItem, generate_many
from tasks.quality import Quality, degrade
from validator.evalsets.cot import draw_eval_set
from validator.model.evaluate import (
    BASE_ADAPTER,
    answer_losses,
    answer_spans,
    completion_losses,
    evaluate,
    evaluate_many,
    extract_answer,
    forward_pass,
    text_loss,
)
from validator.model.recipe import (
    DEFAULT_RECIPE,
    TrainRecipe,
    format_completion,
    format_pair,
    format_prompt,
)
from validator.model.train import lora_adapter, lora_adapters


def test_forward_pass_returns_one_string_per_prompt(tiny_random) -> None:
    model, tok = tiny_random
    prompts = [format_prompt(it.prompt) for it in generate_many(3, 5)]
    out = forward_pass(model, tok, prompts, max_new_tokens=6, batch_size=2)
    assert len(out) == 5 and all(isinstance(s, str) for s in out)


def test_left_padding_does_not_change_a_generation(tiny_random) -> None:
    model, tok = tiny_random
    short, long = "Hi\n", "A much longer prompt than the other one\n"
    alone = forward_pass(model, tok, [short], max_new_tokens=8)
    batched = forward_pass(model, tok, [long, short], max_new_tokens=8)
    assert batched[1] == alone[0]


def test_extract_answer() -> None:
    assert extract_answer("tens 10+20=30.\nAnswer: 42") == "42"
    assert extract_answer("x\nAnswer: apple bird \nmore text") == "apple bird"
    assert extract_answer("Answer: 1\nAnswer: 2") == "2"
    assert extract_answer("no marker here") == ""


def test_losses_are_finite_and_per_item(tiny_random) -> None:
    model, tok = tiny_random
    items = generate_many(5, 7)
    pairs = [format_pair(it) for it in items]
    cl = completion_losses(model, tok, pairs, batch_size=3)
    al = answer_losses(
        model, tok, [(p, c, it.final_answer) for (p, c), it in zip(pairs, items, strict=True)]
    )
    tl = text_loss(model, tok, ["One sentence.", "Another, longer sentence of text."])
    assert len(cl) == len(al) == 7 and len(tl) == 2
    assert all(math.isfinite(x) for x in cl + al + tl)


def test_batching_does_not_change_losses(tiny_random) -> None:
    model, tok = tiny_random
    pairs = [format_pair(it) for it in generate_many(6, 5)]
    one = completion_losses(model, tok, pairs, batch_size=1)
    five = completion_losses(model, tok, pairs, batch_size=5)
    assert torch.allclose(torch.tensor(one), torch.tensor(five), atol=1e-5)


def test_answer_loss_covers_exactly_the_answer_tokens(tiny_random) -> None:
    model, tok = tiny_random
    item = TaskItem("addition", "Q?", "10+20=30.", "30")
    p, c = format_pair(item)
    # The completion's NLLs, token by token, via the single-item helper; the answer's tokens
    # found independently, by the tokenizer's character offsets.
    from validator.model.evaluate import _completion_token_losses

    nll = _completion_token_losses(model, tok, [(p, c)], DEFAULT_RECIPE.max_seq_len, 1)[0]
    enc = tok(c, add_special_tokens=False, return_offsets_mapping=True)
    assert len(nll) == len(enc.input_ids) + 1  # + eos
    spans = [(c.find("30"), c.find("30") + 2), (c.rfind("30"), c.rfind("30") + 2)]
    assert spans[0] != spans[1]

    def covering(lo: int, hi: int) -> list[int]:
        return [i for i, (a, b) in enumerate(enc.offset_mapping) if a < hi and b > lo]

    expect_all = nll[covering(*spans[0]) + covering(*spans[1])].mean().item()
    expect_last = nll[covering(*spans[1])].mean().item()
    assert answer_losses(model, tok, [(p, c, "30")])[0] == expect_all
    assert answer_losses(model, tok, [(p, c, "30")], last_only=True)[0] == expect_last


def test_evaluate_returns_aligned_per_item_arrays(tiny_random) -> None:
    model, tok = tiny_random
    items = generate_many(8, 4)
    ev = evaluate(model, tok, items, ["A guard sentence."], max_new_tokens=8)
    n = len(items)
    assert len(ev.completion_loss) == len(ev.answer_loss) == len(ev.final_answer_loss) == n
    assert len(ev.correct) == len(ev.generated) == len(ev.answers) == n
    assert ev.references == [it.final_answer for it in items]
    assert set(ev.correct) <= {0, 1} and len(ev.general_loss) == 1


def _ladder_pairs(quality: Quality, n: int = 64) -> list[tuple[str, str]]:
    rng = random.Random(0)
    out = []
    for it in generate_many(4242, n):
        p, c, a = degrade(it, quality, rng)
        out.append((format_prompt(p), format_completion(c, a)))
    return out


def test_on_task_data_lowers_answer_loss_far_more_than_off_topic_data(pretrained) -> None:
    """The loss signal separates on-task from off-task data, by a wide margin.

    It does not separate right answers from wrong ones: on the embedded base the two deltas
    are within noise of each other (answer-loss delta correct -0.28 vs wrong -0.30 at the
    recipe's 16 steps). That is why screening checks answers itself (tasks/solve.py) and the
    score charges for wrong ones; this test pins only what the loss can be trusted with.
    """
    model, tok = pretrained
    evals = generate_many(777, 64)
    base = evaluate(model, tok, evals, generate=False)
    deltas = {}
    for q in (Quality.CORRECT, Quality.WRONG, Quality.OFF_TOPIC):
        with lora_adapter(model, tok, _ladder_pairs(q)) as result:
            tuned = evaluate(result.eval_model(), tok, evals, generate=False)
        deltas[q] = sum(
            t - b for t, b in zip(tuned.answer_loss, base.answer_loss, strict=True)
        ) / len(evals)
    # Measured: on-task -0.28/-0.30 nats, off-topic +0.07. A 0.2-nat gap is far from noise
    # (the on-task deltas of 5 data seeds spread over 0.2 nats in the ladder).
    assert max(deltas[Quality.CORRECT], deltas[Quality.WRONG]) + 0.2 < deltas[Quality.OFF_TOPIC]
    assert abs(deltas[Quality.CORRECT]) < 0.5 and abs(deltas[Quality.WRONG]) < 0.5


# Few steps: the adapters only need to differ from each other and from the base.
FAST_RECIPE = TrainRecipe(steps=4, batch_size=4)
# 17 items at batch 16: a chunk of 16 (one shared pass) and a last one of one item (a pass
# per adapter: a decode step of one row), and 51 near misses in 4 chunks.
MANY_ITEMS, MANY_BATCH = 17, 16


def _three_miners() -> dict[str, list[tuple[str, str]]]:
    """Three adapters' data: different tasks and sizes, one of them off-topic."""
    off_topic = _ladder_pairs(Quality.OFF_TOPIC, 12)
    return {
        "m1": [format_pair(it) for it in generate_many(21, 16)],
        "m2": [format_pair(it) for it in generate_many(22, 24)],
        "m3": off_topic,
    }


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_evaluate_many_equals_one_adapter_at_a_time_bit_for_bit(pretrained) -> None:
    """Each adapter's rows in the shared batch give exactly its own evaluation's numbers.

    Claimed exact, and asserted with ``==`` on every array (losses, margins, guard losses,
    generations, answers, correctness): each adapter's rows carry its own one-at-a-time
    layout, PEFT computes its LoRA term on exactly that sub-batch, and the CPU GEMM under the
    base layers gives each row the same bits whatever the row count from 16 matmul rows up; a
    shorter chunk runs one pass per adapter (module docstring of validator/model/evaluate.py).
    Both kinds are here: chunks of 16 items and guard texts (shared, in generation too) and a
    last chunk of one item and of one three-token guard text (a pass each). The pretrained base
    is used so that generations stop at eos at different steps per adapter: rows that finished
    keep riding along in the shared batch.
    """
    model, tok = pretrained
    items = generate_many(99, MANY_ITEMS, near_misses=3)  # finite margins, compared too
    guard = [f"Guard sentence {i}, a little longer than some." for i in range(MANY_BATCH)]
    guard.append("Short.")  # alone in its chunk: a few matmul rows
    kwargs: dict[str, Any] = {"max_new_tokens": 24, "batch_size": MANY_BATCH}
    before = _snapshot(model)
    bare = evaluate(model, tok, items, guard, **kwargs)
    with lora_adapters(model, tok, _three_miners(), FAST_RECIPE) as trained:
        names = [*trained.names, BASE_ADAPTER]
        batched = evaluate_many(trained.model, tok, names, items, guard, **kwargs)
        alone = {}
        for name in trained.names:
            trained.model.set_adapter(name)
            alone[name] = evaluate(trained.model, tok, items, guard, **kwargs)
    assert list(batched) == names
    for name in trained.names:
        assert batched[name] == alone[name], name
    assert batched[BASE_ADAPTER] == bare
    # The adapters really differ (else equality would prove little), and stop unevenly.
    losses = {name: batched[name].completion_loss for name in names}
    assert len({tuple(v) for v in losses.values()}) == len(names)
    lengths = {len(g) for name in names for g in batched[name].generated}
    assert len(lengths) > 1
    # The base is exactly as it was, its modules unwrapped.
    assert type(model.model.layers[0].self_attn.q_proj) is torch.nn.Linear
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(v, after[k]) for k, v in before.items())


def test_evaluate_many_without_generation_equals_evaluate(tiny_random) -> None:
    model, tok = tiny_random
    items = generate_many(5, MANY_ITEMS, near_misses=2)
    kwargs: dict[str, Any] = {"batch_size": MANY_BATCH, "generate": False}
    miners = {k: v for k, v in _three_miners().items() if k != "m3"}
    with lora_adapters(model, tok, miners, FAST_RECIPE) as trained:
        batched = evaluate_many(trained.model, tok, ["m2", "m1"], items, **kwargs)
        for name in ("m1", "m2"):
            trained.model.set_adapter(name)
            assert batched[name] == evaluate(trained.model, tok, items, **kwargs)
    assert batched["m1"].generated == [""] * MANY_ITEMS and batched["m1"].general_loss == []


def test_evaluate_many_runs_a_short_pass_once_per_adapter_bit_for_bit(tiny_random) -> None:
    """Passes of a few tokens (one short guard text each) equal one at a time, bit for bit.

    Below 16 matmul rows the CPU GEMM takes another kernel, and a row's output depends on the
    rows beside it: sharing these passes moved 1-2 of these 7 guard losses per adapter in the
    last bits (measured before ``SHARED_PASS_MIN_ROWS``), so each adapter gets its own pass.
    """
    model, tok = tiny_random
    items = generate_many(5, 2, near_misses=2)
    guard = ["Hi.", "Short.", "Ok then", "A few words", "Yes", "No.", "Maybe so."]
    kwargs: dict[str, Any] = {"batch_size": 1, "generate": False}
    with lora_adapters(model, tok, _three_miners(), FAST_RECIPE) as trained:
        batched = evaluate_many(trained.model, tok, trained.names, items, guard, **kwargs)
        for name in trained.names:
            trained.model.set_adapter(name)
            assert batched[name] == evaluate(trained.model, tok, items, guard, **kwargs), name


def test_evaluate_many_refuses_unusable_adapter_lists(tiny_random) -> None:
    model, tok = tiny_random
    items = generate_many(5, 2)
    with lora_adapters(model, tok, {"m1": _ladder_pairs(Quality.CORRECT, 4)}, FAST_RECIPE) as t:
        with pytest.raises(ValueError, match="no adapters"):
            evaluate_many(t.model, tok, [], items, generate=False)
        with pytest.raises(ValueError, match="named twice"):
            evaluate_many(t.model, tok, ["m1", "m1"], items, generate=False)
        with pytest.raises(ValueError, match="non-existing"):  # PEFT's own check
            evaluate_many(t.model, tok, ["m1", "zz"], items, generate=False)


def test_an_answer_inside_another_number_is_not_an_occurrence() -> None:
    """ "9" inside "79" and "12" inside "128" are other numbers; whole occurrences count."""
    text = "7 + 2 = 9, not 79 or 97.\nAnswer: 9"
    assert [text[a:b] for a, b in answer_spans(text, "9")] == ["9", "9"]
    assert answer_spans(text, "9")[-1] == (len(text) - 1, len(text))
    assert answer_spans("Tens: 7+5=12. So 128.\nAnswer: 128", "12") == [(10, 12)]
    assert answer_spans("x=-3; Answer: -3", "-3") == [(2, 4), (14, 16)]
    assert answer_spans("[1, 2] then Answer: [1, 2]", "[1, 2]") == [(0, 6), (20, 26)]


def test_whole_occurrences_change_no_landed_eval_item() -> None:
    """The eval's answer loss is unchanged by counting whole occurrences only: on these sets
    every occurrence ``str.find`` saw is a whole one (so EVAL_VERSION stays)."""
    for round_id in range(8):
        for item in draw_eval_set("check", f"r{round_id}", 64).items:
            text = format_completion(item.chain_of_thought, item.final_answer)
            found, at = [], text.find(item.final_answer)
            while at >= 0:
                found.append((at, at + len(item.final_answer)))
                at = text.find(item.final_answer, at + len(item.final_answer))
            assert answer_spans(text, item.final_answer) == found, item
