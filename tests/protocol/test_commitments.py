"""Commitment strings: bound to the hotkey, salted, parseable, and within one Raw field."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from bittensor.sp_core import Keypair
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.chain.base import MAX_COMMITMENT_BYTES as CHAIN_MAX_COMMITMENT_BYTES
from protocol.commitments import (
    EVAL_COMMITMENT_VERSION,
    MAX_COMMITMENT_BYTES,
    CommitmentKind,
    ParsedCommitment,
    eval_commitment,
    eval_commitment_digest,
    manifest_binding,
    manifest_commitment,
    parse_commitment,
)
from protocol.manifest import MANIFEST_VERSION

ALICE = Keypair.create_from_uri("//Alice").ss58_address
BOB = Keypair.create_from_uri("//Bob").ss58_address
ROOT = "ab" * 32
SETS = {"cot_sft": "11" * 32, "preference": "22" * 32}
SALT = "5a" * 16

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
OURS = re.compile(r"(dcm1|dce1):[0-9a-f]{64}")

hotkeys = st.text(alphabet=BASE58, min_size=47, max_size=48)  # ss58 addresses' shape
digests = st.binary(min_size=32, max_size=32).map(bytes.hex)
salts = st.binary(min_size=0, max_size=64).map(bytes.hex)
round_ids = st.text(min_size=1, max_size=64)
eval_sets = st.dictionaries(st.sampled_from(["cot_sft", "preference"]), digests, min_size=1)


def test_the_two_limits_agree() -> None:
    assert MAX_COMMITMENT_BYTES == CHAIN_MAX_COMMITMENT_BYTES == 128


def test_the_binding_is_sha256_of_version_hotkey_and_root() -> None:
    expected = hashlib.sha256(f"{MANIFEST_VERSION}|{ALICE}|{ROOT}".encode()).hexdigest()
    assert manifest_binding(ALICE, ROOT) == expected
    assert manifest_commitment(ALICE, ROOT) == f"dcm1:{expected}"


def test_a_copied_commitment_does_not_bind_the_copier() -> None:
    alices = manifest_commitment(ALICE, ROOT)

    # Bob replays Alice's string under his hotkey: a validator checking Bob's commitment
    # against Bob's binding of the root Bob serves finds no match.
    parsed = parse_commitment(alices)
    assert parsed is not None
    assert parsed.digest == manifest_binding(ALICE, ROOT)
    assert parsed.digest != manifest_binding(BOB, ROOT)
    assert manifest_commitment(BOB, ROOT) != alices


@settings(max_examples=200, deadline=None)
@given(first=hotkeys, second=hotkeys, root=digests)
def test_the_binding_differs_per_hotkey(first: str, second: str, root: str) -> None:
    if first != second:
        assert manifest_binding(first, root) != manifest_binding(second, root)
        assert manifest_commitment(first, root) != manifest_commitment(second, root)


@settings(max_examples=200, deadline=None)
@given(hotkey=hotkeys, root=digests, other=digests)
def test_the_binding_differs_per_root(hotkey: str, root: str, other: str) -> None:
    if root != other:
        assert manifest_binding(hotkey, root) != manifest_binding(hotkey, other)


def test_the_eval_digest_is_sha256_of_the_canonical_sets_and_the_salt() -> None:
    canonical = json.dumps(
        {"eval_sets": SETS, "round_id": "r1", "version": EVAL_COMMITMENT_VERSION},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    expected = hashlib.sha256(canonical + bytes.fromhex(SALT)).hexdigest()
    assert eval_commitment_digest("r1", SETS, SALT) == expected
    assert eval_commitment("r1", SETS, SALT) == f"dce1:{expected}"


def test_the_eval_digest_ignores_the_order_of_the_sets() -> None:
    backwards = dict(reversed(list(SETS.items())))
    assert list(backwards) != list(SETS)
    assert eval_commitment("r1", backwards, SALT) == eval_commitment("r1", SETS, SALT)


@settings(max_examples=200, deadline=None)
@given(round_id=round_ids, sets=eval_sets, salt=salts, data=st.data())
def test_the_eval_commitment_changes_with_salt_round_and_any_hash(
    round_id: str, sets: dict[str, str], salt: str, data: st.DataObject
) -> None:
    base = eval_commitment(round_id, sets, salt)

    other_salt = data.draw(salts.filter(lambda s: s != salt), label="salt")
    assert eval_commitment(round_id, sets, other_salt) != base

    other_round = data.draw(round_ids.filter(lambda r: r != round_id), label="round")
    assert eval_commitment(other_round, sets, salt) != base

    competition = data.draw(st.sampled_from(sorted(sets)), label="competition")
    other_hash = data.draw(digests.filter(lambda d: d != sets[competition]), label="hash")
    assert eval_commitment(round_id, {**sets, competition: other_hash}, salt) != base

    fewer = {k: v for k, v in sets.items() if k != competition}
    if fewer:
        assert eval_commitment(round_id, fewer, salt) != base


def test_a_salt_that_is_not_hex_is_refused() -> None:
    with pytest.raises(ValueError):
        eval_commitment("r1", SETS, "not hex")


@settings(max_examples=200, deadline=None)
@given(hotkey=hotkeys, root=digests, round_id=round_ids, sets=eval_sets, salt=salts)
def test_commitments_parse_back_and_fit_one_raw_field(
    hotkey: str, root: str, round_id: str, sets: dict[str, str], salt: str
) -> None:
    miner = manifest_commitment(hotkey, root)
    validator = eval_commitment(round_id, sets, salt)

    assert parse_commitment(miner) == ParsedCommitment(
        CommitmentKind.MANIFEST, manifest_binding(hotkey, root)
    )
    assert parse_commitment(validator) == ParsedCommitment(
        CommitmentKind.EVAL, eval_commitment_digest(round_id, sets, salt)
    )
    for text in (miner, validator):
        assert len(text.encode()) == 69 <= MAX_COMMITMENT_BYTES
        assert text.isascii()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "dcm1",
        "dcm1:",
        "dcm1:" + "ab" * 31 + "a",  # 63 hex digits
        "dcm1:" + "ab" * 32 + "a",  # 65
        "dcm1:" + "AB" * 32,  # upper case is not the canonical form
        "dcm2:" + "ab" * 32,  # a later version this code does not know
        "dcx1:" + "ab" * 32,
        " dcm1:" + "ab" * 32,
        "dcm1:" + "ab" * 32 + "\n",
        "dcm1:0x" + "ab" * 31,
        "sha256:0x" + "ab" * 32,  # how the SDK renders a hash field
        '{"root": "' + "ab" * 32 + '"}',
        "dcm1:" + "g" * 64,
    ],
)
def test_foreign_strings_parse_to_none(text: str) -> None:
    assert parse_commitment(text) is None


@settings(max_examples=500, deadline=None)
@given(st.text() | st.from_regex(r"(dcm1|dce1|dc[a-z]1):[0-9a-fA-F]{60,68}", fullmatch=True))
def test_parse_accepts_exactly_this_protocols_formats(text: str) -> None:
    parsed = parse_commitment(text)
    if OURS.fullmatch(text):
        assert parsed == ParsedCommitment(CommitmentKind(text[:4]), text[5:])
    else:
        assert parsed is None
