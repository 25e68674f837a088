"""The real chain: a subtensor (finney, test, a local node) through the bittensor 11.3 SDK.

Reads go through ``bt.Client``'s typed namespaces (``subnets.metagraph``,
``hyperparameters.*``, ``epochs.blocks_until_next_epoch``); writes are the SDK's intents run
by ``client.execute``: ``bt.BurnedRegister`` (coldkey-signed, MEV-shielded by the SDK itself),
``bt.ServeAxon`` and ``bt.SetWeights`` (hotkey-signed). ``SetWeights`` preflights
registration, the rate limit and ``min_allowed_weights`` and conforms the weights with the
same SDK functions ``conform_weights`` uses, so the u16 map returned here is what was sent.
A commitment has no intent: it is the raw ``Commitments.set_commitment`` call
(``bt.calls``) submitted hotkey-signed with ``client.submit_call``, and read back with
``subnets.commitments``.

The SDK's errors are turned into this package's ``ChainError`` family at the boundary, so a
caller never imports ``bittensor.result``.

Why not ``bt.SyncClient``: its ``close()`` stops its private event loop but never closes it,
so every client leaks a loop and its self-pipe sockets (a ``ResourceWarning`` at garbage
collection, an error under ``-W error``). ``_LoopThread`` below is the same design (the async
client on a background loop, callers block on futures) with a loop that is closed.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Coroutine
from typing import Any

import bittensor as bt
from bittensor._substrate import Substrate
from bittensor.error_map import ErrorCode
from bittensor.result import BittensorError, ExtrinsicResult
from bittensor.signing import WalletLike, public_view
from bittensor.sp_core import Keypair

from protocol.chain.base import (
    ChainError,
    Commitment,
    CommitmentSpaceError,
    Neuron,
    NotRegisteredError,
    NoValidatorPermitError,
    RateLimitedError,
    WeightRules,
    commitment_bytes,
    conform_weights,
)

U16_MAX = 65535  # the chain stores max_weight_limit as a u16 fraction of this

# The SDK error codes that map onto a narrower ChainError, so callers can branch on them.
_ERROR_TYPES: dict[ErrorCode, type[ChainError]] = {
    ErrorCode.NOT_REGISTERED: NotRegisteredError,
    ErrorCode.RATE_LIMITED: RateLimitedError,
    ErrorCode.NOT_AUTHORIZED: NoValidatorPermitError,
}


# Commitments pallet errors by name. Not by ErrorCode: the SDK classes AccountNotAllowedCommit
# (the signer holds no uid on the subnet) as NOT_AUTHORIZED, which _ERROR_TYPES reads as a
# missing validator permit.
_COMMIT_ERRORS: dict[str, type[ChainError]] = {
    "SpaceLimitExceeded": CommitmentSpaceError,
    "AccountNotAllowedCommit": NotRegisteredError,
}


def _translate_commit(result: ExtrinsicResult) -> ChainError:
    """The ChainError for a failed ``set_commitment``, by the pallet error's name."""
    error = result.error
    name = getattr(error, "name", None)
    message = str(error) if error is not None else result.message or "set_commitment failed"
    return _COMMIT_ERRORS.get(name or "", ChainError)(message)


def _translate(error: BittensorError) -> ChainError:
    """Translate an SDK error into this package's ChainError, keeping the SDK's message."""
    code = getattr(error, "code", None)
    kind = _ERROR_TYPES.get(code, ChainError) if isinstance(code, ErrorCode) else ChainError
    return kind(str(error))


CLOSE_TIMEOUT_S = 5.0  # how long close() waits for the connection and the loop to wind down


class _LoopThread:
    """A private event loop on a daemon thread; any thread may block on a coroutine in it."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="sdk-chain"
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the loop and wait for its result."""
        if self._loop.is_closed():
            coro.close()
            raise ChainError("the chain client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def close(self) -> None:
        """Stop the loop, join the thread, close the loop (idempotent)."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(CLOSE_TIMEOUT_S)
        if not self._thread.is_alive():
            self._loop.close()


class SdkChain:
    """One netuid on a real subtensor, through the SDK's synchronous client."""

    def __init__(
        self,
        network: str,
        netuid: int,
        substrate: Substrate | None = None,
        *,
        coldkey: WalletLike | None = None,
        wait_for_finalization: bool = False,
    ) -> None:
        """Connect lazily to ``network`` (a name like ``finney`` or a ``ws://`` URL).

        ``substrate`` replaces the RPC backend (the seam tests use). ``coldkey`` signs
        registrations: the real chain charges the burn to the coldkey and only it may sign
        ``burned_register``; without one ``register`` can only find an existing uid.
        ``wait_for_finalization`` makes writes wait for finality (~2 more blocks) instead of
        inclusion, which is all a validator's weight set needs.
        """
        self.netuid = netuid
        self.network = network
        self._coldkey = coldkey
        self._wait_for_finalization = wait_for_finalization
        self._client = bt.Client(network, substrate=substrate)
        self._loop = _LoopThread()
        self._connected = False
        # A chain that is never closed still stops its loop when it is collected.
        self._finalizer = weakref.finalize(self, self._loop.close)

    def close(self) -> None:
        """Close the connection, then stop and close the private event loop."""
        if self._connected:
            self._connected = False
            try:
                self._loop.run(asyncio.wait_for(self._client.close(), CLOSE_TIMEOUT_S))
            except (BittensorError, OSError, TimeoutError):
                pass  # the connection is being dropped either way
        self._finalizer()

    # Plumbing ------------------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one async SDK call on the private loop (connecting first), translating errors."""
        try:
            if not self._connected:
                self._loop.run(self._client.connect())
                self._connected = True
            return self._loop.run(fn(*args, **kwargs))
        except BittensorError as error:
            raise _translate(error) from error

    def _execute(self, intent: Any, signer: WalletLike) -> ExtrinsicResult:
        """Sign and submit an intent; a dispatch failure raises ``ChainError``."""
        result: ExtrinsicResult = self._call(
            self._client.execute,
            intent,
            signer,
            wait_for_finalization=self._wait_for_finalization,
        )
        if not result.success:
            error = result.error or BittensorError(result.message or f"{intent.op} failed")
            raise _translate(error)
        return result

    def _submit_call(self, call: Any, hotkey: Keypair) -> ExtrinsicResult:
        """Sign ``call`` with ``hotkey`` and submit it; the result, failed or not.

        ``submit_call`` is the SDK's raw-call path: an active ``bt.Policy`` refuses it unless
        the policy sets ``allow_raw_calls``; this client has no policy, so it is allowed.
        """
        result: ExtrinsicResult = self._call(
            self._client.submit_call,
            call,
            hotkey,
            signer="hotkey",
            wait_for_finalization=self._wait_for_finalization,
        )
        return result

    def _uid_of(self, hotkey_ss58: str) -> int | None:
        uid = self._call(
            self._client.query, bt.storage.SubtensorModule.Uids, [self.netuid, hotkey_ss58]
        )
        return None if uid is None else int(uid)

    # The Chain protocol -------------------------------------------------------------------

    def metagraph(self) -> list[Neuron]:
        """Every registered uid from one ``get_metagraph`` runtime call (no commitments)."""
        graph = self._call(self._client.subnets.metagraph, self.netuid, commitments=False)
        if graph is None:
            raise ChainError(f"subnet {self.netuid} does not exist on {self.network}")
        return [
            Neuron(
                uid=n.uid,
                hotkey=n.hotkey,
                coldkey=n.coldkey,
                stake=n.alpha_stake.amount,
                validator_permit=n.validator_permit,
                endpoint=n.axon,
                last_update=n.last_update,
            )
            for n in graph.neurons
        ]

    def register(self, hotkey: Keypair, coldkey_ss58: str) -> int:
        """The hotkey's uid, registering it first when it holds none.

        Registration is a burned registration signed by the coldkey given at construction.
        """
        uid = self._uid_of(hotkey.ss58_address)
        if uid is not None:
            return uid
        if self._coldkey is None:
            raise ChainError(
                f"hotkey {hotkey.ss58_address} is not registered on {self.netuid}, and "
                "registering needs the coldkey's signature: pass coldkey= or use btcli"
            )
        signer_ss58 = public_view(self._coldkey, "coldkey").ss58_address
        if signer_ss58 != coldkey_ss58:
            raise ChainError(f"the coldkey given is {signer_ss58}, not {coldkey_ss58}")
        self._execute(
            bt.BurnedRegister(self.netuid, hotkey_ss58=hotkey.ss58_address), self._coldkey
        )
        uid = self._uid_of(hotkey.ss58_address)
        if uid is None:
            raise ChainError(f"registration of {hotkey.ss58_address} was included but no uid shows")
        return uid

    def serve(self, hotkey: Keypair, ip: str, port: int) -> None:
        """Publish the endpoint with ``serve_axon`` (subject to the chain's serving rate limit)."""
        self._execute(bt.ServeAxon(self.netuid, ip=ip, port=port), hotkey)

    def set_weights(self, hotkey: Keypair, weights: dict[int, float]) -> dict[int, int]:
        """Submit ``SetWeights``; returns the u16 weights the intent composed.

        On a commit-reveal subnet the SDK sends a timelocked commit instead, which the chain
        reveals later; the returned map is then what will be revealed.
        """
        uid = self._uid_of(hotkey.ss58_address)
        if uid is None:
            raise NotRegisteredError(
                f"hotkey {hotkey.ss58_address} is not registered on {self.netuid}"
            )
        expected = conform_weights(weights, self.weight_rules(), own_uid=uid)
        self._execute(bt.SetWeights(self.netuid, weights=dict(weights)), hotkey)
        return expected

    def block(self) -> int:
        """The chain head's block number."""
        return int(self._call(self._client.block))

    def weight_rules(self) -> WeightRules:
        """The four hyperparameters, read at the head."""
        hyper = self._client.hyperparameters
        max_u16 = self._call(hyper.max_weight_limit, self.netuid)
        tempo = self._call(self._client.query, bt.storage.SubtensorModule.Tempo, [self.netuid])
        return WeightRules(
            weights_rate_limit=int(self._call(hyper.weights_rate_limit, self.netuid)),
            min_allowed_weights=int(self._call(hyper.min_allowed_weights, self.netuid)),
            max_weight_limit=int(max_u16) / U16_MAX,
            tempo=int(tempo or 0),
        )

    def blocks_until_next_epoch(self) -> int:
        """Blocks to the chain-computed next epoch start."""
        blocks = self._call(self._client.epochs.blocks_until_next_epoch, self.netuid)
        if blocks is None:
            raise ChainError(f"subnet {self.netuid} has tempo 0 and never runs epochs")
        return int(blocks)

    def commit(self, hotkey: Keypair, data: str) -> Commitment:
        """Submit ``Commitments.set_commitment`` with ``data`` as one Raw field, hotkey-signed.

        Returns the commitment as read back at the head after inclusion. The byte limit is
        checked here; registration and the epoch's space are the chain's checks, and their
        refusals come back as ``NotRegisteredError`` and ``CommitmentSpaceError``.
        """
        raw = commitment_bytes(data)
        # CommitmentInfo { fields: BoundedVec<Data, MaxFields> } with one Data::Raw<n> field.
        # The BoundedVec goes in as a list wrapped in a list: the shape the bittensor SDK itself
        # composed for this call in v9 (``publish_metadata``), the newtype around the Vec.
        info = {"fields": [[{f"Raw{len(raw)}": "0x" + raw.hex()}]]}
        result = self._submit_call(bt.calls.Commitments.set_commitment(self.netuid, info), hotkey)
        if not result.success:
            raise _translate_commit(result)
        stored = self.commitments().get(hotkey.ss58_address)
        if stored is None:
            raise ChainError(
                f"the commitment of {hotkey.ss58_address} was included but does not show"
            )
        return stored

    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        """Every hotkey's readable commitment at ``block`` (the head when None).

        Timelocked commitments still sealed are left out. A past block needs an archive node.
        """
        found = self._call(self._client.subnets.commitments, self.netuid, block=block)
        return {
            hotkey: Commitment(hotkey, entry.value or "", int(entry.block))
            for hotkey, entry in found.items()
            if entry.is_revealed
        }
