from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tasks.families import generate_many
from validator.attribution.cli import TRAIN_SAMPLES, TRAIN_SEED, compare, main
from validator.attribution.methods import attribute
from validator.model.base import TINY_RANDOM, load_base
from validator.model.recipe import format_completion, format_pair
from validator.model.train import lora_adapter

SEED = 7


# Torch at one thread (tests/conftest.py): two shared cores, no spinning against other jobs.
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_cli_shows_base_vs_a_saved_adapter_and_the_quick_adapter_matches_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, tok = load_base(TINY_RANDOM)
    item = generate_many(SEED, 1)[0]
    completion = format_completion(item.chain_of_thought, item.final_answer)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    train = [format_pair(it) for it in generate_many(TRAIN_SEED, TRAIN_SAMPLES)]
    with lora_adapter(base, tok, train) as result:
        result.model.save_pretrained(tmp_path / "adapter")
        expected = attribute(result.model, tok, item.prompt, completion, "gradient")

    # the quick adapter (trained inside compare) is the same adapter: same data, same recipe
    (row,) = compare(base, tok, [item], None, "gradient")
    assert row.tuned == expected
    assert row.base == attribute(base, tok, item.prompt, completion, "gradient")
    assert row.tuned.scores != row.base.scores  # the adapter changed something
    after = base.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # base restored
    assert not hasattr(base, "peft_config")

    page = tmp_path / "out.html"
    argv = ["--model", TINY_RANDOM, "--samples", "1", "--seed", str(SEED)]
    argv += ["--adapter", str(tmp_path / "adapter"), "--method", "gradient", "--html", str(page)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # captured stdout is not a terminal: the plain view
    expected_line = f"tuned {expected.completion_logprob:.2f}"
    assert f"sample 1 ({item.family})" in out and expected_line in out
    assert out.count("top: ") == 2 and "  base : " in out and "  tuned: " in out
    text = page.read_text(encoding="utf-8")
    assert text.count('class="tok"') == 2 * len(expected.tokens)
    assert expected_line in text


def test_cli_rejects_zero_samples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", TINY_RANDOM, "--samples", "0"])
    assert exit_info.value.code == 2
    assert "--samples must be at least 1" in capsys.readouterr().err
