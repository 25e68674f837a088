"""``python -m validator.audit ROUND_DIR --miner HOTKEY [HOTKEY ...]``: re-run miners' scores of a round.

Reads the round directory (``summary.json``: the record; ``eval_set.json``: the published
sets and the commitment's salt; ``signed/<competition>/<uid>.json``: the miner's signed
response, or ``--signed FILE`` for the miner's own copy) — or, with ``--api URL --round ID
--signed FILE``, the record and the published sets from a validator's leaderboard API, so a
third party needs only the API and the miner's signed response — reads the chain's commitments at
the recorded blocks, checks signatures, proofs and both commitments, re-runs the contamination
gate on the published sets (``validator/audit/gate.py``), re-trains and re-scores,
and prints the recomputed score beside the recorded one. Several miners of one competition are
audited in one process, each in its own section, on one base evaluation (the round shares one
too, so the numbers are the same as one at a time). Exit status 0 when every check holds and
every score is reproduced exactly, 1 otherwise, 2 for unusable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from protocol.chain import LOCAL_EMBEDDED, Chain, is_endpoint, open_chain
from protocol.chain.base import ChainError, Commitment
from protocol.schemas import Competition
from validator.audit.checks import (
    Finding,
    SignedResponse,
    eval_commitment_findings,
    response_findings,
)
from validator.audit.gate import gate_findings
from validator.audit.rescore import AuditError, RoundRescorer, kept_samples
from validator.evalsets.pool import PUBLISHED_FILE
from validator.model.base import TINY, load_base
from validator.store.records import MinerRoundRecord, RoundRecord

# A round record and a published set are tens of kilobytes; a slow API still answers in this.
API_TIMEOUT_S = 30.0

# Heads each miner's section when one process audits several (``localnet/audit.py`` splits on it).
MINER_SECTION = "== miner"
# The verdict line of a miner whose score was reproduced (``localnet/audit.py`` reads it).
REPRODUCED = "reproduced bit for bit: yes"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m validator.audit", description=__doc__)
    parser.add_argument(
        "round_dir", type=Path, nargs="?", help="the round directory (runs/<round_id>)"
    )
    parser.add_argument("--api", help="a leaderboard API to read the round from (with --round)")
    parser.add_argument("--round", dest="round_id", help="the round id (with --api)")
    parser.add_argument(
        "--miner",
        dest="miners",
        nargs="+",
        required=True,
        metavar="HOTKEY",
        help="the miners' hotkeys (ss58); several are audited in one process",
    )
    parser.add_argument(
        "--competition", type=Competition, default=Competition.COT_SFT, choices=list(Competition)
    )
    parser.add_argument(
        "--signed", type=Path, help="the miner's signed response (default: the round's)"
    )
    parser.add_argument(
        "--subtensor.network",
        dest="network",
        help=f"default: the round record's (before round-record/6: {LOCAL_EMBEDDED})",
    )
    parser.add_argument("--netuid", type=int, help="default: the round record's (before: 1)")
    parser.add_argument(
        "--chain.path", dest="chain_path", type=Path, default=Path(".localnet/chain.sqlite")
    )
    parser.add_argument(
        "--model",
        help=f"the base model the round used (default: the round record's; before: {TINY})",
    )
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if (args.round_dir is None) == (args.api is None):
        parser.error("give a round directory, or --api URL --round ID --signed FILE")
    if args.api is not None and (args.round_id is None or args.signed is None):
        parser.error("--api needs --round and --signed (the miner's signed response)")
    if args.signed is not None and len(args.miners) > 1:
        parser.error("--signed is one miner's response: audit one miner with it")
    return args


def _load_window(args: argparse.Namespace, record: RoundRecord) -> dict[str, dict[str, Any] | None]:
    """Each published set the round's CoT gate checked besides its own (None: not found).

    From the round directory's siblings (``<runs>/<round>/eval_set.json``), or the API. A
    body that is not JSON is passed on empty: the gate check reports it, the audit goes on.
    """
    part = record.competitions.get(Competition.COT_SFT)
    names = list(part.gate_window or {}) if part is not None else []
    texts: dict[str, str | None] = {}
    if args.api is None:
        for round_id in names:
            path = args.round_dir.parent / round_id / PUBLISHED_FILE
            texts[round_id] = path.read_text(encoding="utf-8") if path.is_file() else None
    else:
        rounds = f"{args.api.rstrip('/')}/v1/rounds"
        with httpx.Client(timeout=API_TIMEOUT_S, trust_env=False) as client:
            for round_id in names:
                got = client.get(f"{rounds}/{round_id}/eval_set")
                texts[round_id] = got.text if got.status_code == 200 else None
    return {r: None if text is None else _json_object(text) for r, text in texts.items()}


def _json_object(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _load(args: argparse.Namespace) -> tuple[RoundRecord, dict[str, Any]]:
    """The round's record and its published sets, from the directory or the API."""
    if args.api is None:
        summary = json.loads((args.round_dir / "summary.json").read_text())
        return RoundRecord.from_dict(summary), json.loads(
            (args.round_dir / "eval_set.json").read_text()
        )
    base = f"{args.api.rstrip('/')}/v1/rounds/{args.round_id}"
    with httpx.Client(timeout=API_TIMEOUT_S, trust_env=False) as client:
        record = client.get(base)
        published = client.get(f"{base}/eval_set")
    for response in (record, published):
        if response.status_code != 200:
            raise AuditError(f"{response.url}: HTTP {response.status_code}: {response.text[:200]}")
    return RoundRecord.from_dict(record.json()), published.json()


def _miner(record: RoundRecord, hotkey: str, competition: Competition) -> MinerRoundRecord:
    for miner in record.miners:
        if miner.hotkey == hotkey and miner.competition == competition:
            return miner
    raise AuditError(f"{hotkey} has no {competition.value} record in round {record.round_id}")


def _print(findings: Sequence[Finding]) -> None:
    for finding in findings:
        mark = "ok  " if finding.ok else "FAIL"
        print(f"[{mark}] {finding.check}: {finding.detail}")


class _Shared:
    """What the audits of one round's miners share, each loaded once, when first needed."""

    def __init__(
        self, args: argparse.Namespace, record: RoundRecord, published: dict[str, Any]
    ) -> None:
        self.args = args
        self.record = record
        self.published = published

    @cached_property
    def window(self) -> dict[str, dict[str, Any] | None]:
        return _load_window(self.args, self.record)

    @cached_property
    def rescorer(self) -> RoundRescorer:
        model, tokenizer = load_base(self.args.model, self.args.device)
        return RoundRescorer(self.record, self.published, model, tokenizer)


def with_record_defaults(args: argparse.Namespace, record: RoundRecord) -> argparse.Namespace:
    """The base model, network and netuid left off the command line, from the round record.

    A record from before round-record/6 names none: the old defaults (the embedded base and
    chain). A ``--model`` other than the round's is a choice (a local copy of the weights, say),
    so it is said, not refused: the scores it gives will not be the recorded ones. A record
    that names a node's URL is not followed: the record comes from the validator under audit,
    and its own node could answer the commitment reads as it likes; ``--subtensor.network``
    then names the chain the auditor trusts.
    """
    if args.model is None:
        args.model = record.base_model or TINY
    elif record.base_model and args.model != record.base_model:
        print(f"note: the round used base model {record.base_model!r}; auditing on {args.model!r}")
    if args.network is None:
        recorded = record.network or LOCAL_EMBEDDED
        if is_endpoint(recorded):
            raise AuditError(
                f"the round read the chain through the node {recorded}; give --subtensor.network"
                " (finney, test, or a node you trust): an audit does not take the audited"
                " validator's node from its own record"
            )
        args.network = recorded
    if args.netuid is None:
        args.netuid = record.netuid if record.netuid is not None else 1
    return args


def audit(
    args: argparse.Namespace, chain: Chain, record: RoundRecord, published: dict[str, Any]
) -> bool:
    """Every check and the re-score of each miner; True when all hold and all are reproduced."""
    miners = [_miner(record, hotkey, args.competition) for hotkey in args.miners]
    committed = record.eval_commitment
    at = committed.block if committed is not None and committed.block is not None else None
    validator_commitment = (
        chain.commitments(at).get(record.validator_hotkey) if at is not None else None
    )
    round_findings = eval_commitment_findings(record, published, validator_commitment)
    _print(round_findings)
    read_at = record.commitments_block.get(args.competition.value)
    commitments = chain.commitments(read_at) if read_at is not None else {}
    shared = _Shared(args, record, published)
    ok = all(f.ok for f in round_findings)
    for miner in miners:
        if len(miners) > 1:
            print(f"{MINER_SECTION} {miner.hotkey} ({args.competition.value})")
        ok = _audit_miner(shared, miner, commitments.get(miner.hotkey)) and ok
    return ok


def _audit_miner(shared: _Shared, miner: MinerRoundRecord, commitment: Commitment | None) -> bool:
    """One miner's checks and re-score, printed; True when all hold and the score is exact."""
    args, record = shared.args, shared.record
    signed_path = (
        args.signed or args.round_dir / "signed" / args.competition.value / f"{miner.uid}.json"
    )
    signed = SignedResponse.from_dict(json.loads(signed_path.read_text()))
    found, response, proven = response_findings(signed, record, miner, commitment)
    if response is not None:
        found += gate_findings(record, miner, proven, shared.published, shared.window)
    _print(found)
    if response is None:
        return False
    kept = kept_samples(response.samples, signed.kept_sha256)
    rescored = shared.rescorer.rescore(miner, kept, signed.requested)
    exact = rescored.miner.score == miner.score
    _print_scores(miner, rescored.miner)
    print(REPRODUCED if exact else "reproduced bit for bit: no")
    where = args.round_dir or f"--api {args.api} --round {args.round_id} --signed {args.signed}"
    print(
        f"reproduce: python -m validator.audit {where} --miner {miner.hotkey}"
        f" --competition {args.competition.value}"
    )
    return exact and all(f.ok for f in found)


def _print_scores(recorded: MinerRoundRecord, recomputed: MinerRoundRecord) -> None:
    print(f"recorded score   {recorded.score!r}")
    print(
        f"recomputed score {recomputed.score!r}  difference {recomputed.score - recorded.score!r}"
    )
    for name, value in sorted(recorded.components.items()):
        again = recomputed.components.get(name)
        print(f"  {name:<24} recorded {value!r:<24} recomputed {again!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the exit status."""
    args = parse_args(argv)
    try:
        record, published = _load(args)
        args = with_record_defaults(args, record)
        print(f"base model {args.model!r}; chain {args.network!r}, netuid {args.netuid}")
        chain = open_chain(args.network, args.netuid, args.chain_path)
        return 0 if audit(args, chain, record, published) else 1
    except (AuditError, ChainError, OSError, KeyError, ValueError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
