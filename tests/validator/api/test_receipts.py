"""Commitments, the published eval set and per-miner receipts, over real HTTP and a real Redis."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from fastapi import HTTPException

from protocol.cli import parse_settings
from protocol.commitments import eval_commitment
from protocol.keys import Keys
from tests.support.rounds import make_round
from tests.support.servers import serve_in_thread
from tests.validator.api.committed import SALT, committed_round, round_record_2
from validator.api.app import create_app
from validator.api.receipts import audit_command, eval_set_file
from validator.api.server import ApiSettings, build_app
from validator.store.leaderboard import LeaderboardStore
from validator.store.records import RoundRecord

UIDS = [1, 2, 3]
SECRET = {"not": "an eval set"}


@pytest.fixture
def store(redis_client: redis.Redis, keys: Keys) -> LeaderboardStore:
    store = LeaderboardStore(redis_client, keys)
    old = round_record_2(1, UIDS)
    store.apply_round(RoundRecord.from_dict(old))
    redis_client.set(keys.round("r00001"), json.dumps(old))  # stored exactly as /2 wrote it
    store.apply_round(committed_round(2, UIDS))
    store.apply_round(committed_round(3, [1, 2]))  # uid 3 missed round 3
    return store


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """The validator's runs directory: published sets, and files that must never be served."""
    root = tmp_path / "runs"
    for round_id in ("r00001", "r00002"):
        (root / round_id).mkdir(parents=True)
        published = {"cot_sft": {"items": [round_id]}, "commitment": {"salt": SALT}}
        (root / round_id / "eval_set.json").write_text(json.dumps(published))
        (root / round_id / "summary.json").write_text("{}")
    # r00003 is in the leaderboard but its set is not in this directory.
    (root / "eval_set.json").write_text(json.dumps(SECRET))  # reached only by round "."
    (tmp_path / "eval_set.json").write_text(json.dumps(SECRET))  # reached only by round ".."
    return root


def client_for(store: LeaderboardStore, runs_dir: Path | None) -> Iterator[httpx.Client]:
    with serve_in_thread(create_app(store, None, runs_dir)) as address:
        with httpx.Client(base_url=f"http://{address}", timeout=10) as client:
            yield client


@pytest.fixture
def api(store: LeaderboardStore, runs: Path) -> Iterator[httpx.Client]:
    yield from client_for(store, runs)


@pytest.fixture
def bare_api(store: LeaderboardStore) -> Iterator[httpx.Client]:
    """The API without the runs directory."""
    yield from client_for(store, None)


def test_round_commitments(api: httpx.Client) -> None:
    body = api.get("/v1/rounds/r00002/commitments").json()
    sets = {"cot_sft": f"{2:064x}"}
    assert body["round_id"] == "r00002" and body["validator_hotkey"] == "5Validator"
    committed = body["eval_commitment"]
    assert committed["chain_value"] == eval_commitment("r00002", sets, SALT)
    assert committed["chain_value"] == "dce1:" + committed["digest"]
    assert (committed["salt"], committed["eval_sets"]) == (SALT, sets)
    assert (committed["block"], committed["error"]) == (1099, None)
    assert body["commitments_block"] == {"cot_sft": 1107}
    assert body["miners"] == [
        {
            "uid": uid,
            "hotkey": f"5Hotkey{uid:04d}",
            "competition": "cot_sft",
            "manifest_root": f"{uid:02x}" * 32,
            "commit_block": 900 + uid,
            "unproven": uid,
        }
        for uid in UIDS
    ]
    assert body["eval_set"]["url"] == "/v1/rounds/r00002/eval_set"
    assert body["eval_set"]["validator_path"] == "runs/r00002/eval_set.json"


def test_a_round_record_2_still_renders(api: httpx.Client) -> None:
    assert api.get("/v1/rounds/r00001").json()["eval_commitment"] is None
    body = api.get("/v1/rounds/r00001/commitments").json()
    assert body["eval_commitment"] is None and body["commitments_block"] == {}
    assert all(m["manifest_root"] is None and m["commit_block"] is None for m in body["miners"])
    assert all(m["unproven"] == 0 for m in body["miners"])
    receipt = api.get("/v1/miners/5Hotkey0003/receipt").json()  # uid 3's latest: r00002
    assert receipt["round_id"] == "r00002"
    assert api.get("/v1/rounds/r00001/eval_set").json()["cot_sft"] == {"items": ["r00001"]}


def test_eval_set_served_from_the_runs_directory(api: httpx.Client, runs: Path) -> None:
    res = api.get("/v1/rounds/r00002/eval_set")
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    assert res.content == (runs / "r00002" / "eval_set.json").read_bytes()
    missing = api.get("/v1/rounds/r00003/eval_set")  # applied, but not in this directory
    assert missing.status_code == 404 and "runs/r00003/eval_set.json" in missing.json()["detail"]
    assert api.get("/v1/rounds/r00003/commitments").json()["eval_set"]["url"] is None
    unknown = api.get("/v1/rounds/r00009/eval_set")  # a round the leaderboard never had
    assert unknown.status_code == 404 and "unknown round" in unknown.json()["detail"]


def test_eval_set_without_runs_directory_is_404_naming_the_host_path(
    bare_api: httpx.Client,
) -> None:
    res = bare_api.get("/v1/rounds/r00002/eval_set")
    assert res.status_code == 404
    assert "validator host at runs/r00002/eval_set.json" in res.json()["detail"]
    location = bare_api.get("/v1/rounds/r00002/commitments").json()["eval_set"]
    assert location["url"] is None and location["validator_path"] == "runs/r00002/eval_set.json"
    assert "validator host" in location["note"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/rounds/%2E%2E/eval_set",
        "/v1/rounds/%2E/eval_set",
        "/v1/rounds/r00002%2F..%2F..%2Feval_set.json/eval_set",
        "/v1/rounds/r00002/..%2F..%2Feval_set",
        "/v1/rounds/r00002/summary.json",
        "/v1/rounds/..%5C..%5Ceval_set",
    ],
)
def test_path_traversal_is_refused(api: httpx.Client, path: str) -> None:
    res = api.get(path)
    assert res.status_code in (404, 422), (path, res.status_code)
    assert "not an eval set" not in res.text


def test_traversal_refused_even_for_rounds_the_store_holds(
    store: LeaderboardStore, runs: Path, tmp_path: Path
) -> None:
    # Round ids "." and ".." match the id pattern; were one ever recorded, the file check
    # alone must still refuse to leave <runs>/<round_id>/.
    for odd in (".", ".."):
        record = make_round(9, [1])
        record.round_id = odd
        store.apply_round(record)
    for client in client_for(store, runs):
        for encoded in ("%2E", "%2E%2E"):
            res = client.get(f"/v1/rounds/{encoded}/eval_set")
            assert res.status_code == 404 and "has no eval set" in res.json()["detail"]
    # Symlinks out of the runs directory are refused: a file and a whole round directory.
    (runs / "r00003").mkdir()
    (runs / "r00003" / "eval_set.json").symlink_to(tmp_path / "eval_set.json")
    (runs / "r00004").symlink_to(runs / "r00002")
    for round_id in ("r00003", "r00004", ".", ".."):
        with pytest.raises(HTTPException) as refused:
            eval_set_file(runs, round_id)
        assert refused.value.status_code == 404, round_id
    assert eval_set_file(runs, "r00002") == (runs / "r00002" / "eval_set.json").resolve()


def test_receipt_of_the_latest_round(api: httpx.Client, runs: Path) -> None:
    res = api.get("/v1/miners/5Hotkey0002/receipt", params={"competition": "cot_sft"})
    assert res.status_code == 200, res.text
    receipt = res.json()
    want = committed_round(3, [1, 2]).miners[1]
    assert (receipt["round_id"], receipt["uid"], receipt["hotkey"]) == ("r00003", 2, "5Hotkey0002")
    assert (receipt["status"], receipt["error"]) == ("scored", None)
    assert receipt["reasons"] == ["2 served samples failed their manifest proof"]
    assert receipt["counts"] == {
        "offered": 64,
        "accepted": 58,
        "duplicates": 2,
        "contaminated": 0,
        "contamination_allowance": 0,
        "invalid": 2,
        "unproven": 2,
        "wrong_answers": 1,
    }
    assert receipt["components"] == pytest.approx(want.components)
    assert (receipt["ci_low"], receipt["ci_high"]) == (0.01, 0.09)
    assert receipt["score"] == pytest.approx(want.score)
    assert receipt["ema"] == pytest.approx(want.ema)
    assert receipt["weight"] == pytest.approx(want.weight)
    committed = committed_round(3, [1, 2]).eval_commitment
    assert committed is not None
    assert receipt["commitments"] == {
        "manifest_root": "02" * 32,
        "commit_block": 902,
        "commitments_block": 1157,
        "eval_commitment_digest": committed.digest,
        "eval_commitment_chain_value": f"dce1:{committed.digest}",
        "eval_commitment_block": 1149,
    }
    # In the round's directory under this API's runs directory (the validator's --run-dir).
    assert shlex.split(receipt["audit_command"]) == [
        *("python", "-m", "validator.audit", f"{runs.as_posix()}/r00003"),
        *("--miner", "5Hotkey0002", "--competition", "cot_sft"),
    ]
    # From anywhere: this API (as the client reached it), the round, the miner's own response.
    api_form = shlex.split(receipt["audit_from_api"])
    assert api_form[3:7] == ["--api", str(api.base_url).rstrip("/"), "--round", "r00003"]
    assert api_form[7] == "--signed" and api_form[-4:] == [
        "--miner",
        "5Hotkey0002",
        "--competition",
        "cot_sft",
    ]
    assert receipt["eval_set"]["url"] is None  # r00003's set is not in this runs directory


def test_receipt_unknowns_are_404_with_a_reason(api: httpx.Client) -> None:
    unknown = api.get("/v1/miners/5Nobody/receipt")
    assert unknown.status_code == 404 and "5Nobody" in unknown.json()["detail"]
    other = api.get("/v1/miners/5Hotkey0001/receipt", params={"competition": "preference"})
    assert other.status_code == 404 and "preference" in other.json()["detail"]
    assert api.get("/v1/miners/bad!key/receipt").status_code == 422
    assert api.get("/v1/miners/5Hotkey0001/receipt?competition=Bad").status_code == 422


def test_the_audit_command_names_the_round_directory_it_runs_in() -> None:
    # No runs directory given to the API: the validator's default --run-dir.
    assert audit_command(None, "r1", "5H", "cot_sft") == (
        "python -m validator.audit runs/r1 --miner 5H --competition cot_sft"
    )
    assert shlex.split(audit_command(Path("/data/runs"), "r1", "5H", "cot_sft"))[3] == (
        "/data/runs/r1"
    )


def test_the_entry_point_takes_the_runs_directory(runs: Path) -> None:
    unreachable = "redis://127.0.0.1:1/0"  # building the app sends Redis no command
    settings = parse_settings(
        ApiSettings, ["--redis.url", unreachable, "--runs.dir", str(runs)], ""
    )
    assert settings.runs_dir == runs and build_app(settings).state.runs_dir == runs
    assert build_app(ApiSettings(redis_url=unreachable)).state.runs_dir is None
