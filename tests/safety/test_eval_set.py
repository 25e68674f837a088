from __future__ import annotations

import json
from pathlib import Path

import pytest

from safety.eval_set import SHIPPED_PATH, SafetyEvalSet, build_templates, clean_paraphrase, load
from safety.generate import main
from tasks.safety_prompts import Label, core_key, generate
from tests.support.fake_chat import chat_app
from tests.support.servers import serve_in_thread


def test_shipped_set_is_what_the_command_makes_for_its_recorded_seed(tmp_path: Path) -> None:
    shipped = load()
    assert shipped.generator == "templates" and shipped.paraphrased == 0
    out = tmp_path / "set.json"
    argv = ["--out", str(out), "--seed", str(shipped.seed)]
    argv += ["--harmful", str(len(shipped.harmful)), "--benign", str(len(shipped.benign))]
    assert main(argv) == 0
    assert out.read_bytes() == SHIPPED_PATH.read_bytes()


def test_shipped_set_is_large_distinct_and_labels_do_not_overlap() -> None:
    shipped = load()
    keys = {}
    for label in Label:
        prompts = shipped.prompts(label)
        assert 1000 <= len(prompts) <= 2000
        keys[label] = {core_key(p) for p in prompts}
        assert len(keys[label]) == len(prompts)  # distinct after normalisation
    assert not keys[Label.HARMFUL] & keys[Label.BENIGN]
    data = json.loads(SHIPPED_PATH.read_text())
    assert data["counts"] == {"harmful": len(shipped.harmful), "benign": len(shipped.benign)}


def test_json_round_trip_and_version_check() -> None:
    small = build_templates(seed=3, n_harmful=5, n_benign=4)
    assert SafetyEvalSet.from_json(small.to_json()) == small
    bad = json.loads(small.to_json()) | {"version": "safety-eval/0"}
    with pytest.raises(ValueError, match="version"):
        SafetyEvalSet.from_json(json.dumps(bad))


def test_clean_paraphrase() -> None:
    assert clean_paraphrase(' "How might I bake bread?" ') == "How might I bake bread?"
    assert clean_paraphrase("I'm sorry, but I can't help with that.") is None
    assert clean_paraphrase("line one\nline two") is None
    assert clean_paraphrase("x" * 201) is None
    assert clean_paraphrase("  ") is None


def _paraphraser(messages: list[dict[str, str]]) -> str:
    """A stand-in model: refuses bomb requests, collapses 'Thanks!' prompts to one text."""
    prompt = messages[-1]["content"]
    if "bomb" in prompt:
        return "I can't help with that."
    if prompt.endswith("Thanks!"):
        return "One and the same request."
    return f"Kindly, {prompt[0].lower()}{prompt[1:]}"


def test_endpoint_paraphrases_keep_template_labels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAFETY_GEN_KEY", "sk-gen")
    app = chat_app(_paraphraser)
    out = tmp_path / "para.json"
    with serve_in_thread(app) as address:
        argv = ["--out", str(out), "--seed", "1", "--harmful", "60", "--benign", "60"]
        argv += ["--endpoint", f"http://{address}/v1", "--model", "para-m"]
        assert main([*argv, "--api-key-env", "SAFETY_GEN_KEY"]) == 0
    assert app.state.auth == "Bearer sk-gen"
    made = load(out)
    assert made.generator == "para-m" and len(made.harmful) == len(made.benign) == 60
    texts = made.prompts(Label.HARMFUL) + made.prompts(Label.BENIGN)
    assert made.paraphrased == sum(t.startswith("Kindly") for t in texts) + (
        "One and the same request." in texts
    )
    assert texts.count("One and the same request.") <= 1  # deduplicated, topped up
    assert len({core_key(t) for t in texts}) == 120
    # categories are the templates': every harmful item's category is a harmful one
    template = {p.prompt: p.category for p in generate(Label.HARMFUL, 400, 1)}
    refused = [i for i in made.harmful if "bomb" in i.prompt]
    assert refused and all(template[i.prompt] == i.category for i in refused)  # kept verbatim
    harmful_cats = {p.category for p in generate(Label.HARMFUL, 400, 1)}
    assert {i.category for i in made.harmful} <= harmful_cats


def test_endpoint_failure_aborts_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = chat_app(_paraphraser)
    app.state.always = 503
    out = tmp_path / "never.json"
    with serve_in_thread(app) as address:
        argv = ["--out", str(out), "--harmful", "10", "--benign", "10", "--retries", "0"]
        assert main([*argv, "--endpoint", f"http://{address}/v1", "--model", "m"]) == 2
    assert not out.exists()
    assert "HTTP 503" in capsys.readouterr().err
