"""RoundRecord: per-competition versions, and old summary.json files still load."""

from __future__ import annotations

import json

from protocol.schemas import Competition
from tests.support.rounds import make_round
from validator.store.records import RECORD_VERSION, CompetitionRecord, RoundRecord


def test_round_record_1_without_competitions_loads() -> None:
    """A summary.json written before ``competitions`` existed (round-record/1)."""
    old = make_round(1, [1, 2]).to_dict()
    del old["competitions"]
    old["record_version"] = "round-record/1"
    record = RoundRecord.from_dict(json.loads(json.dumps(old)))
    assert record.competitions == {} and record.record_version == "round-record/1"
    assert record.scoring_version == "score/1" and len(record.miners) == 2


def test_competitions_round_trip_through_json() -> None:
    record = make_round(2, [1])
    record.competitions = {
        Competition.COT_SFT: CompetitionRecord(0.0, False, skipped_reason="share 0"),
        Competition.PREFERENCE: CompetitionRecord(
            1.0,
            True,
            eval_set_sha256="ab" * 32,
            eval_version="pref-eval/1",
            recipe_version="dpo-lora/1",
            scoring_version="pref-v1",
            judge="rule",
        ),
    }
    again = RoundRecord.from_dict(json.loads(json.dumps(record.to_dict())))
    assert again == record and again.record_version == RECORD_VERSION == "round-record/6"


def test_an_older_record_loads_and_a_newer_records_unknown_keys_are_left_out() -> None:
    record = make_round(3, [1, 2])
    record.base_model, record.network, record.netuid = "Qwen/Qwen2.5-0.5B", "finney", 7
    older = {
        k: v for k, v in record.to_dict().items() if k not in ("base_model", "network", "netuid")
    }
    older["record_version"] = "round-record/5"
    again = RoundRecord.from_dict(older)
    assert (again.base_model, again.network, again.netuid) == ("", "", None)
    newer = {**record.to_dict(), "a_field_of_round_record_9": {"x": 1}}
    assert RoundRecord.from_dict(json.loads(json.dumps(newer))) == record
