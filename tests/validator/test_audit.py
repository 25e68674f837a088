"""``python -m validator.audit`` on a real round: it reproduces the score, and catches tampering.

A real round on loopback (LocalChain, real miner services that commit before they serve, real
Redis, the tiny model), then the audit command as a third party runs it, against the round
directory and the chain's history.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import redis

from miner.sources import GeneratorSource
from protocol.keys import Keys
from protocol.schemas import Competition
from tasks.quality import Quality
from tests.support.servers import serve_in_thread
from tests.support.validator_fixture import MinerSpec, round_network
from validator.api.app import create_app
from validator.audit.cli import MINER_SECTION, main, parse_args, with_record_defaults
from validator.audit.rescore import AuditError, recipe_for
from validator.model.recipe import DEFAULT_RECIPE, RECIPES
from validator.stages.preference_measure import PreferenceConfig
from validator.store.leaderboard import LeaderboardStore
from validator.store.records import MinerStatus, RoundRecord

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ROUND_ID = "audit-round"
EARLIER_ROUND = "audit-round-0"


@dataclass
class Audited:
    record: RoundRecord
    round_dir: Path
    chain_path: Path
    hotkeys: dict[str, str]
    store: LeaderboardStore


@pytest.fixture(scope="module")
def audited(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_random: tuple[Any, Any],
    embedded_redis: redis.Redis,
) -> Iterator[Audited]:
    tmp = tmp_path_factory.mktemp("audit")
    miners = [
        MinerSpec("honest", GeneratorSource("honest")),
        MinerSpec("sloppy", GeneratorSource("sloppy", Quality.WRONG)),
        MinerSpec("copycat", GeneratorSource("honest")),
    ]
    keys = Keys.for_network("audit", 1)
    with round_network(tmp, embedded_redis, keys, tiny_random, miners) as net:
        net.ctx.shares = {Competition.COT_SFT: 0.5, Competition.PREFERENCE: 0.5}
        # Small held-out sets and short answers: the preference part in seconds on 2 cores.
        net.ctx.stages.preference = PreferenceConfig(8, 8, 16, max_new_tokens=8)
        # A round before: its published set is in the audited round's gate window.
        net.run(EARLIER_ROUND)
        record = net.run(ROUND_ID)
        hotkeys = {
            name: n.hotkey
            for name, uid in net.uids.items()
            for n in net.chain.metagraph()
            if n.uid == uid
        }
        yield Audited(record, tmp / "runs" / ROUND_ID, tmp / "chain.sqlite", hotkeys, net.store)


def _audit(
    audited: Audited,
    name: str,
    round_dir: Path | None = None,
    competition: Competition = Competition.COT_SFT,
) -> int:
    return main(
        [
            str(round_dir or audited.round_dir),
            "--miner",
            audited.hotkeys[name],
            "--competition",
            competition.value,
            "--chain.path",
            str(audited.chain_path),
            # No --model, --subtensor.network or --netuid: the round record names them.
        ]
    )


def _copy(audited: Audited, tmp_path: Path) -> Path:
    copy = tmp_path / ROUND_ID
    shutil.copytree(audited.round_dir, copy)
    return copy


def test_the_round_committed_before_it_pulled(audited: Audited) -> None:
    committed = audited.record.eval_commitment
    assert committed is not None and committed.block is not None and committed.error is None
    assert all(committed.block <= b for b in audited.record.commitments_block.values())
    by_name = {
        name: m
        for name in audited.hotkeys
        for m in audited.record.miners
        if m.hotkey == audited.hotkeys[name] and m.competition == Competition.COT_SFT
    }
    assert set(audited.record.commitments_block) == {"cot_sft", "preference"}
    assert all(m.commit_block is not None for m in by_name.values())
    # The copycat committed after honest (registration order): honest holds the data.
    assert by_name["honest"].commit_block <= by_name["copycat"].commit_block  # type: ignore[operator]
    assert by_name["honest"].status == MinerStatus.SCORED and by_name["honest"].score > 0
    assert by_name["copycat"].accepted == 0


@pytest.mark.parametrize(
    ("name", "competition"),
    [
        ("honest", Competition.COT_SFT),
        ("sloppy", Competition.COT_SFT),
        ("honest", Competition.PREFERENCE),
    ],
)
def test_the_audit_reproduces_the_score_bit_for_bit(
    audited: Audited, name: str, competition: Competition, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _audit(audited, name, competition=competition) == 0
    out = capsys.readouterr().out
    assert "reproduced bit for bit: yes" in out and "FAIL" not in out
    recorded = next(
        m
        for m in audited.record.miners
        if m.hotkey == audited.hotkeys[name] and m.competition == competition
    )
    assert recorded.status == MinerStatus.SCORED
    assert f"recorded score   {recorded.score!r}" in out


def test_a_tampered_published_set_is_caught(
    audited: Audited, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The validator swaps one held-out item after the round: the set no longer hashes to
    what it committed before the pull."""
    copy = _copy(audited, tmp_path)
    published = json.loads((copy / "eval_set.json").read_text())
    published["items"][0]["final_answer"] += "0"
    (copy / "eval_set.json").write_text(json.dumps(published))
    assert _audit(audited, "honest", copy) == 1
    assert "[FAIL] published sets match the committed hashes" in capsys.readouterr().out


def test_the_gate_is_re_derived_from_the_published_sets(
    audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """The round's gate checked the earlier round's published set; the audit rebuilds it."""
    part = audited.record.competitions[Competition.COT_SFT]
    assert part.gate_window is not None and list(part.gate_window) == [EARLIER_ROUND]
    assert _audit(audited, "honest") == 0
    out = capsys.readouterr().out
    assert "[ok  ] the gate's published sets: 1 published set(s)" in out
    assert "[ok  ] contamination gate re-derived" in out


def test_a_recorded_allowance_the_gate_does_not_give_is_caught(
    audited: Audited, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The validator edits a miner's chance allowance in its record after the round."""
    copy = _copy(audited, tmp_path)
    (tmp_path / EARLIER_ROUND).symlink_to(audited.round_dir.parent / EARLIER_ROUND)
    summary = json.loads((copy / "summary.json").read_text())
    hotkey = audited.hotkeys["honest"]
    for miner in summary["miners"]:
        if miner["hotkey"] == hotkey and miner["competition"] == "cot_sft":
            miner["contamination_allowance"] += 5
    (copy / "summary.json").write_text(json.dumps(summary))
    assert _audit(audited, "honest", copy) == 1
    assert "[FAIL] contamination gate re-derived" in capsys.readouterr().out


def test_a_tampered_response_is_caught(
    audited: Audited, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sample edited in the kept response no longer carries the miner's signature."""
    copy = _copy(audited, tmp_path)
    [signed] = (copy / "signed" / "cot_sft").glob(
        f"{next(m.uid for m in audited.record.miners if m.hotkey == audited.hotkeys['honest'])}.json"
    )
    dump = json.loads(signed.read_text())
    dump["body"] = dump["body"].replace('"final_answer":"', '"final_answer":"1', 1)
    signed.write_text(json.dumps(dump))
    assert _audit(audited, "honest", copy) == 1
    assert "[FAIL] miner's signature" in capsys.readouterr().out


def test_an_unknown_miner_is_unusable_input(audited: Audited) -> None:
    audited.hotkeys["nobody"] = "5" + "x" * 47
    assert _audit(audited, "nobody") == 2


def test_a_third_party_audits_from_the_api_and_the_miners_file(
    audited: Audited, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing but the validator's leaderboard API (record, published set) and the miner's own
    signed response: the same checks, the same score."""
    honest = next(
        m
        for m in audited.record.miners
        if m.hotkey == audited.hotkeys["honest"] and m.competition == Competition.COT_SFT
    )
    mine = tmp_path / "my-response.json"
    shutil.copy(audited.round_dir / "signed" / "cot_sft" / f"{honest.uid}.json", mine)
    app = create_app(audited.store, runs_dir=audited.round_dir.parent)
    with serve_in_thread(app) as address:
        code = main(
            [
                "--api",
                f"http://{address}",
                "--round",
                ROUND_ID,
                "--signed",
                str(mine),
                "--miner",
                honest.hotkey,
                "--chain.path",
                str(audited.chain_path),
                "--model",
                "tiny-random",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reproduced bit for bit: yes" in out and "FAIL" not in out


def test_the_api_mode_needs_the_miners_file() -> None:
    with pytest.raises(SystemExit):
        main(["--api", "http://127.0.0.1:1", "--round", ROUND_ID, "--miner", "x"])


def _score_lines(out: str) -> list[str]:
    """The recorded and recomputed numbers an audit prints, through its verdict."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("recorded score"))
    end = next(i for i, line in enumerate(lines) if line.startswith("reproduced bit for bit"))
    return lines[start : end + 1]


def test_one_process_audits_several_miners_as_it_audits_each(
    audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    """Several miners of a competition on one model load and one base evaluation: each miner's
    section prints, number for number, what its own audit prints."""
    names = ["honest", "sloppy"]
    alone = {}
    for name in names:
        assert _audit(audited, name) == 0
        alone[name] = _score_lines(capsys.readouterr().out)
    hotkeys = [audited.hotkeys[name] for name in names]
    code = main(
        [str(audited.round_dir), "--miner", *hotkeys]
        + ["--chain.path", str(audited.chain_path), "--model", "tiny-random"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    sections = out.split(MINER_SECTION)[1:]
    assert [section.split()[0] for section in sections] == hotkeys
    for name, section in zip(names, sections, strict=True):
        assert _score_lines(section) == alone[name]
        assert "reproduced bit for bit: yes" in section and "FAIL" not in section


def test_the_record_names_what_an_audit_loads_and_reads(audited: Audited) -> None:
    record = audited.record
    assert (record.base_model, record.network, record.netuid) == (
        "tiny-random",
        "local-embedded",
        1,
    )
    again = RoundRecord.from_dict(json.loads((audited.round_dir / "summary.json").read_text()))
    assert (again.base_model, again.network, again.netuid) == ("tiny-random", "local-embedded", 1)


def test_flags_left_out_come_from_the_record_and_old_records_get_the_old_defaults(
    audited: Audited, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_args([str(audited.round_dir), "--miner", "x"])
    assert (args.model, args.network, args.netuid) == (None, None, None)
    filled = with_record_defaults(args, audited.record)
    assert (filled.model, filled.network, filled.netuid) == ("tiny-random", "local-embedded", 1)
    old = replace(audited.record, base_model="", network="", netuid=None)  # round-record/5
    filled = with_record_defaults(parse_args([str(audited.round_dir), "--miner", "x"]), old)
    assert (filled.model, filled.network, filled.netuid) == ("tiny", "local-embedded", 1)
    assert capsys.readouterr().out == ""
    # Another model is the auditor's choice, and said: its scores will not be the recorded ones.
    mine = parse_args([str(audited.round_dir), "--miner", "x", "--model", "/weights/copy"])
    assert with_record_defaults(mine, audited.record).model == "/weights/copy"
    assert "the round used base model 'tiny-random'" in capsys.readouterr().out
    # A node's URL in the record is the audited validator's say: not followed, the flag is.
    on_a_node = replace(audited.record, network="wss://node.validator.example:443")
    with pytest.raises(AuditError, match="give --subtensor.network"):
        with_record_defaults(parse_args([str(audited.round_dir), "--miner", "x"]), on_a_node)
    trusted = parse_args([str(audited.round_dir), "--miner", "x", "--subtensor.network", "finney"])
    assert with_record_defaults(trusted, on_a_node).network == "finney"


def test_a_miners_own_signed_file_is_for_one_miner(audited: Audited, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main([str(audited.round_dir), "--miner", "a", "b", "--signed", str(tmp_path / "r.json")])


def test_a_round_under_the_previous_recipe_is_audited_with_it(
    tmp_path: Path,
    tiny_random: tuple[Any, Any],
    embedded_redis: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A validator that upgrades keeps its earlier rounds auditable: the record names
    ``cot-sft-lora/2`` and the audit re-trains at that recipe's 8 rows a step, bit for bit."""
    previous = RECIPES["cot-sft-lora/2"]
    assert previous.batch_size != DEFAULT_RECIPE.batch_size
    keys = Keys.for_network("audit-previous-recipe", 1)
    miners = [MinerSpec("honest", GeneratorSource("honest"))]
    with round_network(tmp_path, embedded_redis, keys, tiny_random, miners) as net:
        net.ctx.shares = {Competition.COT_SFT: 1.0, Competition.PREFERENCE: 0.0}
        net.ctx.stages.cot.recipe = previous
        record = net.run(ROUND_ID)
        hotkey = next(n.hotkey for n in net.chain.metagraph() if n.uid == net.uids["honest"])
    assert record.competitions[Competition.COT_SFT].recipe_version == "cot-sft-lora/2"
    code = main(
        [str(tmp_path / "runs" / ROUND_ID), "--miner", hotkey]
        + ["--chain.path", str(tmp_path / "chain.sqlite"), "--model", "tiny-random"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "reproduced bit for bit: yes" in out


def test_a_recipe_this_code_cannot_re_run_is_named() -> None:
    with pytest.raises(AuditError, match=r"cot-sft-lora/1; this code re-runs cot-sft-lora/2, "):
        recipe_for("cot-sft-lora/1")
    assert recipe_for(DEFAULT_RECIPE.version) is DEFAULT_RECIPE
