"""Round records for leaderboard, API, web and report tests: deterministic, no model run."""

from __future__ import annotations

from validator.store.records import MinerRoundRecord, RoundRecord

T0 = 1_700_000_000.0  # round start times count from here, 600 s apart


def miner_record(
    uid: int, round_no: int, competition: str = "cot_sft", **over: object
) -> MinerRoundRecord:
    score = round(0.1 * uid + 0.01 * round_no, 6)
    fields: dict[str, object] = dict(
        uid=uid,
        hotkey=f"5Hotkey{uid:04d}",
        competition=competition,
        status="scored",
        offered=64,
        accepted=60 - uid % 5,
        duplicates=uid % 3,
        contaminated=uid % 2,
        score=score,
        ema=score * 0.9,
        weight=0.0,
        components={"loss_delta": 0.05 * uid, "accuracy_delta": 0.01 * uid, "rouge_l_delta": 0.02},
        ci_low=0.01,
        ci_high=0.09,
        reasons=[],
        train_losses=[2.0 - 0.1 * step - 0.01 * uid for step in range(8)],
        timings_s={"pull": 0.1, "train": 0.5, "eval": 0.2},
    )
    fields.update(over)
    return MinerRoundRecord(**fields)  # type: ignore[arg-type]


def make_round(round_no: int, uids: list[int], competition: str = "cot_sft") -> RoundRecord:
    miners = [miner_record(uid, round_no, competition) for uid in uids]
    total = sum(m.ema for m in miners) or 1.0
    for m in miners:
        m.weight = m.ema / total
    started = T0 + 600 * round_no
    return RoundRecord(
        round_id=f"r{round_no:05d}",
        validator_hotkey="5Validator",
        started_at=started,
        finished_at=started + 42.5,
        block=1000 + 50 * round_no,
        eval_set_sha256=f"{round_no:064x}",
        eval_version="eval/1",
        scoring_version="score/1",
        recipe_version="recipe/1",
        seeds={"eval": round_no, "train": 7},
        base_metrics={"loss": 1.2, "accuracy": 0.3, "rouge_l": 0.4},
        miners=miners,
        weights={m.uid: m.weight for m in miners},
        weights_set=round_no % 4 != 3,
    )
