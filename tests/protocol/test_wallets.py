"""Wallets on disk: created without prompts, loaded once, never overwritten."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from bittensor.sp_core import Keypair

from protocol.wallets import coldkey_ss58, ensure_wallet, load_coldkey, load_hotkey


def test_ensure_wallet_creates_coldkey_and_hotkey(tmp_path: Path) -> None:
    hotkey = ensure_wallet("validator", "default", tmp_path)

    assert isinstance(hotkey, Keypair)
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert files == {
        "validator/coldkey",
        "validator/coldkeypub.txt",
        "validator/hotkeys/default",
        "validator/hotkeys/defaultpub.txt",
    }
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in tmp_path.rglob("*") if p.is_file())
    assert load_coldkey("validator", tmp_path).ss58_address == coldkey_ss58("validator", tmp_path)
    assert coldkey_ss58("validator", tmp_path) != hotkey.ss58_address


def test_ensure_wallet_keeps_existing_keys_and_adds_hotkeys(tmp_path: Path) -> None:
    first = ensure_wallet("miner", "m1", tmp_path)
    cold = coldkey_ss58("miner", tmp_path)

    assert ensure_wallet("miner", "m1", tmp_path).ss58_address == first.ss58_address
    second = ensure_wallet("miner", "m2", tmp_path)
    assert second.ss58_address != first.ss58_address
    assert coldkey_ss58("miner", tmp_path) == cold


def test_load_hotkey_reads_the_file_once(tmp_path: Path) -> None:
    created = ensure_wallet("w", "h", tmp_path)
    loaded = load_hotkey("w", "h", tmp_path)
    assert loaded is load_hotkey("w", "h", tmp_path)
    assert loaded.ss58_address == created.ss58_address

    signature = loaded.sign(b"payload")
    assert Keypair(ss58_address=loaded.ss58_address).verify(b"payload", signature)


def test_missing_wallets_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_hotkey("absent", "h", tmp_path)
    with pytest.raises(FileNotFoundError):
        coldkey_ss58("absent", tmp_path)
    with pytest.raises(FileNotFoundError):
        load_coldkey("absent", tmp_path)
