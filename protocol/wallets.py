"""Bittensor wallets on disk, and the hotkeys neurons sign with.

A wallet is ``<path>/<name>/coldkey``, ``coldkeypub.txt`` and ``hotkeys/<hotkey>`` (the SDK's
layout, mode 0600). The SDK ignores ``BT_WALLET_PATH`` (only btcli reads it), so the path is
always passed explicitly here.

``load_hotkey`` returns the raw ``Keypair`` and caches it: handing a ``Wallet`` to
``http_auth.sign`` re-reads the keyfile on every request (1.4-2.2 ms against ~60 us with the
keypair in memory).
"""

from __future__ import annotations

import threading
from pathlib import Path

import bittensor as bt
from bittensor.sp_core import Keypair

DEFAULT_WALLET_PATH = Path.home() / ".bittensor" / "wallets"  # where btcli and the SDK look

_cache: dict[tuple[str, str, str], Keypair] = {}
_cache_lock = threading.Lock()


def _key(name: str, hotkey: str, path: Path) -> tuple[str, str, str]:
    return (name, hotkey, str(Path(path).expanduser().resolve()))


def load_hotkey(name: str, hotkey: str, path: Path = DEFAULT_WALLET_PATH) -> Keypair:
    """The hotkey ``hotkey`` of wallet ``name`` under ``path``, read once per process.

    Raises ``FileNotFoundError`` when the wallet or hotkey does not exist, and the SDK's
    ``KeyfileError`` when the keyfile cannot be read (for instance an encrypted hotkey with
    no password available).
    """
    key = _key(name, hotkey, path)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    wallet = bt.Wallet(name, hotkey, path=str(Path(path).expanduser()))
    if not wallet.hotkey_file.exists_on_device():
        raise FileNotFoundError(f"no hotkey {hotkey!r} in wallet {name!r} under {path}")
    keypair = wallet.hotkey
    with _cache_lock:
        return _cache.setdefault(key, keypair)


def coldkey_ss58(name: str, path: Path = DEFAULT_WALLET_PATH) -> str:
    """The ss58 address of wallet ``name``'s coldkey, from its public file (never unlocks)."""
    wallet = bt.Wallet(name, path=str(Path(path).expanduser()))
    if not wallet.coldkeypub_file.exists_on_device():
        raise FileNotFoundError(f"no coldkey in wallet {name!r} under {path}")
    return str(wallet.coldkeypub.ss58_address)


def load_coldkey(name: str, path: Path = DEFAULT_WALLET_PATH) -> Keypair:
    """Wallet ``name``'s coldkey, unlocked (it signs registrations on a real chain).

    An encrypted coldkey is unlocked through the SDK's password chain (the environment
    variable it names, else a prompt on a terminal; ``EOFError`` without one).
    """
    wallet = bt.Wallet(name, path=str(Path(path).expanduser()))
    if not wallet.coldkey_file.exists_on_device():
        raise FileNotFoundError(f"no coldkey in wallet {name!r} under {path}")
    return wallet.coldkey


def ensure_wallet(name: str, hotkey: str, path: Path = DEFAULT_WALLET_PATH) -> Keypair:
    """The hotkey of wallet ``name``, creating what is missing without any prompt.

    A missing coldkey is created unencrypted (``use_password=False``): these wallets are for
    local networks and tests, where nothing of value is held. A missing hotkey is added to an
    existing coldkey. Existing keys are never overwritten.
    """
    wallet = bt.Wallet(name, hotkey, path=str(Path(path).expanduser()))
    if not (wallet.coldkey_file.exists_on_device() or wallet.coldkeypub_file.exists_on_device()):
        wallet.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
    if not wallet.hotkey_file.exists_on_device():
        wallet.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    return load_hotkey(name, hotkey, path)
