from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from miner.sources import DataSourceError, FileSource, GeneratorSource, load_dataset_file
from protocol.schemas import Competition, CotSample, PreferenceSample, Sample
from tasks.families import verify
from tasks.quality import Quality
from tasks.registry import REGISTRY

GOOD = {"prompt": "2+2?", "chain_of_thought": "two and two", "final_answer": "4"}


def _cot(samples: Sequence[Sample]) -> list[CotSample]:
    """The samples, each checked to be a chain-of-thought one."""
    assert all(isinstance(s, CotSample) for s in samples)
    return [s for s in samples if isinstance(s, CotSample)]


def _pairs(samples: Sequence[Sample]) -> list[PreferenceSample]:
    """The samples, each checked to be a preference pair."""
    assert all(isinstance(s, PreferenceSample) for s in samples)
    return [s for s in samples if isinstance(s, PreferenceSample)]


def test_jsonl_and_json_list_load(tmp_path: Path) -> None:
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text("\n".join(json.dumps(GOOD | {"prompt": f"q{i}"}) for i in range(3)) + "\n\n")
    assert len(load_dataset_file(jsonl, Competition.COT_SFT)) == 3
    lst = tmp_path / "d.json"
    lst.write_text(json.dumps([GOOD, GOOD]))
    assert len(load_dataset_file(lst, Competition.COT_SFT)) == 2


@pytest.mark.parametrize(
    "content, message",
    [
        (json.dumps(GOOD) + "\n{broken\n", "line 2: invalid JSON"),
        (
            json.dumps(GOOD) + "\n" + json.dumps({"prompt": "x"}) + "\n",
            "line 2: chain_of_thought: Field required",
        ),
        (json.dumps(GOOD | {"prompt": ""}) + "\n", "line 1: prompt"),
        (json.dumps(GOOD | {"extra": 1}) + "\n", "line 1: extra"),
        (json.dumps([GOOD, {"prompt": 3}]), "item 1: prompt"),
        ("", "no samples"),
    ],
)
def test_bad_file_names_the_bad_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataSourceError) as error:
        load_dataset_file(path, Competition.COT_SFT)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_invalid_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DataSourceError, match="UTF-8"):
        load_dataset_file(path, Competition.COT_SFT)


def test_preference_file(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "c", "rejected": "r"}))
    source = FileSource(path, Competition.PREFERENCE)
    [sample] = source.samples(Competition.PREFERENCE, 5, "r1")
    assert isinstance(sample, PreferenceSample)
    with pytest.raises(DataSourceError):
        source.samples(Competition.COT_SFT, 1, "r1")


def test_file_source_rotates_per_round(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(GOOD | {"prompt": f"q{i}"}) for i in range(50)))
    source = FileSource(path, Competition.COT_SFT)
    assert source.samples(Competition.COT_SFT, 10, "a") == source.samples(
        Competition.COT_SFT, 10, "a"
    )
    assert source.samples(Competition.COT_SFT, 10, "a") != source.samples(
        Competition.COT_SFT, 10, "b"
    )


def test_generator_is_correct_and_deterministic() -> None:
    source = GeneratorSource("seed")
    samples = source.samples(Competition.COT_SFT, 20, "round-1")
    assert samples == source.samples(Competition.COT_SFT, 20, "round-1")
    assert samples != source.samples(Competition.COT_SFT, 20, "round-2")
    assert all(isinstance(s, CotSample) and s.final_answer for s in samples)


def test_generator_serves_every_family_in_an_equal_share_each_round() -> None:
    for round_id in ("r1", "r2"):
        samples = _cot(GeneratorSource("mix").samples(Competition.COT_SFT, 64, round_id))
        readers = [REGISTRY.readers(s.prompt) for s in samples]
        assert all(len(r) == 1 for r in readers)  # each prompt is one family's
        families = Counter(r[0] for r in readers)
        assert families == dict.fromkeys(REGISTRY.names(), 16)


def test_generator_quality_degrades_answers() -> None:
    good = GeneratorSource("s").samples(Competition.COT_SFT, 30, "r")
    wrong = GeneratorSource("s", Quality.WRONG).samples(Competition.COT_SFT, 30, "r")
    assert [g.prompt for g in good] == [w.prompt for w in wrong]
    assert not any(
        verify(w.final_answer, g.final_answer) for g, w in zip(_cot(good), _cot(wrong), strict=True)
    )


def test_generator_serves_preference_pairs() -> None:
    good = GeneratorSource("p").samples(Competition.PREFERENCE, 10, "r1")
    assert len(good) == 10 and all(isinstance(s, PreferenceSample) for s in good)
    assert good == GeneratorSource("p").samples(Competition.PREFERENCE, 10, "r1")
    assert good != GeneratorSource("p").samples(Competition.PREFERENCE, 10, "r2")
    swapped = GeneratorSource("p", Quality.WRONG).samples(Competition.PREFERENCE, 10, "r1")
    assert [s.prompt for s in swapped] == [s.prompt for s in good]  # same prompts, other rung
    assert [(s.chosen, s.rejected) for s in _pairs(swapped)] != [
        (s.chosen, s.rejected) for s in _pairs(good)
    ]


def test_generator_serves_what_its_template_space_holds_for_a_large_request() -> None:
    """A request beyond the training split's distinct prompts gets every one, not an error."""
    source = GeneratorSource("p")
    served = source.samples(Competition.PREFERENCE, 256, "r1")  # the protocol's largest ask
    assert len(served) == source.max_pairs < 256
    assert len({s.prompt for s in served if isinstance(s, PreferenceSample)}) == len(served)
