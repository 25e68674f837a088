"""The eval pool survives a restart: published sets and canaries are read back at start."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import cast

from common.text import join_fields
from tasks.families import TaskItem
from tests.support.perturb import KIND_NAMES, perturb_item
from validator.evalsets.pool import PUBLISHED_FILE, EvalPool
from validator.service import load_pool

SECRET = "restart-secret"
ITEMS = 16


def _publish(run_root: Path, round_ids: list[str], secret: str = SECRET) -> list[dict[str, object]]:
    """Rounds as a validator runs them: draw, then write what ``published()`` gives."""
    pool = EvalPool(secret)
    out = []
    for round_id in round_ids:
        pool.draw(round_id, ITEMS)
        body = pool.published()
        (run_root / round_id).mkdir(parents=True)
        (run_root / round_id / PUBLISHED_FILE).write_text(json.dumps(body))
        out.append(body)
    return out


def _texts(items: list[TaskItem]) -> tuple[list[str], list[str]]:
    return [join_fields(i.prompt, i.chain_of_thought, i.final_answer) for i in items], [
        i.final_answer for i in items
    ]


def test_published_sets_and_canaries_are_caught_after_a_restart(tmp_path: Path) -> None:
    [body] = _publish(tmp_path, ["r1"])
    pool = load_pool(SECRET, tmp_path)  # the restarted validator's pool
    assert len(pool.published_sets()) == 1
    pool.draw("r2", ITEMS)
    gate = pool.index()
    # ``published()`` is typed as a JSON object; these two entries are lists of item dicts.
    items = [TaskItem.from_dict(it) for it in cast("list[dict[str, object]]", body["items"])]
    canaries = [TaskItem.from_dict(it) for it in cast("list[dict[str, object]]", body["canaries"])]
    verdicts = gate.check(*_texts(items + canaries))
    assert all(v.contaminated for v in verdicts)
    assert [v.item_id for v in verdicts[len(items) :]] == [
        f"r1/canary{i}" for i in range(len(canaries))
    ]
    rng = random.Random(3)
    perturbed = [perturb_item(it, kind, rng) for kind in KIND_NAMES for it in items]
    assert all(v.contaminated for v in gate.check(*_texts(perturbed)))


def test_a_set_published_under_another_secret_is_reloaded_too(tmp_path: Path) -> None:
    _publish(tmp_path, ["old"], secret="the secret before rotation")
    assert len(load_pool(SECRET, tmp_path).published_sets()) == 1


def test_the_window_keeps_the_newest_and_a_tampered_file_is_skipped(tmp_path: Path) -> None:
    _publish(tmp_path, ["a", "b", "c"])
    tampered = tmp_path / "b" / PUBLISHED_FILE
    body = json.loads(tampered.read_text())
    body["items"][0]["final_answer"] = "tampered"
    tampered.write_text(json.dumps(body))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / PUBLISHED_FILE).write_text("{not json")
    pool = EvalPool(SECRET, recent_rounds=1)
    assert pool.reload(tmp_path) == 1
    [(eval_set, canaries)] = pool.published_sets()
    assert eval_set.round_id == "c" and canaries
