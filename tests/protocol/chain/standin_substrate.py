"""A stand-in substrate for ``bt.Client(network, substrate=...)``: a tiny subtensor in memory.

The SDK's ``Client`` talks to the chain only through its ``Substrate`` protocol
(``bittensor._substrate``): reads return plain decoded values and writes take a composed
call and a signer and return an ``ExtrinsicResult``. This stand-in answers exactly the
methods that ``SdkChain``'s operations reach, with values shaped like the decoded answers
of a real node, and keeps one subnet's state so that a call it accepts changes what the
next read sees. Every composed and submitted call is recorded for the tests to assert.

Covered: the storage items read by ``SetWeights``' preflight, the hyperparameter reads,
``SubnetInfoRuntimeApi.get_metagraph`` / ``get_next_epoch_start_block``, ``compose``,
``submit``, and the MEV-shielded path ``BurnedRegister`` must take (``MevShield.NextKey``,
``sign_extrinsic``, ``account_next_index``, ``find_extrinsic``). The chain-side checks it
applies on dispatch are the ones the SDK does not preflight: the validator permit for
weights and registration of the caller for ``serve_axon``.

The Commitments pallet too: ``set_commitment`` with Raw fields (the signer must be
registered, at most ``MAX_FIELDS`` fields, ``MAX_SPACE`` bytes per hotkey per epoch, each
commitment counting at least ``MIN_SPACE``), and the ``CommitmentOf`` /
``RevealedCommitments`` maps the SDK's ``subnets.commitments`` reads. Every commitment is
kept, and a ``block_hash`` handed out by ``block_hash()`` reads ``CommitmentOf`` and
``Uids`` as they were at that block, as an archive node does.

Not covered (any call to them raises ``AttributeError``): block subscriptions, events,
multisig, out-of-process signing, timelocked and hash commitment fields, and any storage
item not listed in ``_read_storage`` (those raise ``StandInGap`` so a new SDK read shows up
as a clear failure, not a None).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from bittensor.balance import Balance
from bittensor.result import ChainError as SdkChainError
from bittensor.result import ExtrinsicResult

if TYPE_CHECKING:
    from bittensor._substrate import Substrate

U16_MAX = 65535  # the chain's u16 scale for weights and ratios
MLKEM768_PUBLIC_KEY_BYTES = 1184  # FIPS 203 encapsulation-key size for ML-KEM-768
STAKE_THRESHOLD_RAO = 1_000_000_000  # 1 alpha: the least stake that can hold a permit here
MAX_VALIDATORS = 64  # finney's default number of validator permits
BLOCK_TIME_S = 12.0  # finney's block time; only scales the SDK's "retry in ~N s" messages
# The Commitments pallet's configuration on subtensor: MaxFields, MaxSpace's default, and the
# least space one commitment is charged; Data's Raw variants run Raw0..Raw128.
MAX_FIELDS = 3
MAX_SPACE = 3100
MIN_SPACE = 100
MAX_RAW_BYTES = 128
_RAW_VARIANT = re.compile(r"Raw(\d+)")


class StandInGap(AssertionError):
    """The SDK asked for something this stand-in does not model."""


@dataclass
class StandInNeuron:
    """One uid's chain state."""

    hotkey: str
    coldkey: str
    registered_at: int
    stake_rao: int = 0
    axon: dict[str, int] | None = None
    last_update: int = 0
    weights: dict[int, int] = field(default_factory=dict)


@dataclass
class Submitted:
    """One extrinsic the stand-in accepted into a block, as (module, function, params)."""

    module: str
    function: str
    params: dict[str, Any]
    signer: str
    block: int


class StandInSubstrate:
    """One subnet (``netuid``) of a subtensor, in memory; see the module docstring."""

    def __init__(
        self,
        netuid: int = 1,
        *,
        block: int = 1_000,
        tempo: int = 360,
        weights_rate_limit: int = 100,
        min_allowed_weights: int = 1,
        max_weight_limit: int = U16_MAX,
        commit_reveal: bool = False,
        burn_rao: int = 500_000_000,
    ) -> None:
        self.netuid = netuid
        self.head = block
        self.hyper: dict[str, Any] = {
            "Tempo": tempo,
            "WeightsSetRateLimit": weights_rate_limit,
            "MinAllowedWeights": min_allowed_weights,
            "MaxWeightsLimit": max_weight_limit,
            "CommitRevealWeightsEnabled": commit_reveal,
            "SubnetEpochConsensus": "Yuma",
            "LastEpochBlock": block - block % (tempo + 1),
            "Burn": burn_rao,
            "CollateralLockShare": 0,
            "RevealPeriodEpochs": 1,
            "PendingEpochAt": 0,
            "SubnetEpochIndex": 0,
            "BlocksSinceLastStep": block % (tempo + 1),
        }
        self.neurons: list[StandInNeuron] = []
        self.token_symbols: dict[int, str] = {}
        self.composed: list[Any] = []
        self.submitted: list[Submitted] = []
        self.failed: list[ExtrinsicResult] = []
        self._nonces: dict[str, int] = {}
        self._signed: dict[str, tuple[Any, str]] = {}
        self._receipts: dict[str, ExtrinsicResult] = {}
        self._hash_numbers: dict[str, int] = {}  # every block hash handed out -> its number
        # CommitmentOf's history: per hotkey, (block, decoded record), oldest first.
        self.commitment_history: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self._used_space: dict[str, tuple[int, int]] = {}  # UsedSpaceOf: (epoch, bytes)

    # Test helpers --------------------------------------------------------------------------

    def add_neuron(self, hotkey: str, coldkey: str, stake: float = 0.0) -> int:
        """Register a neuron directly in state (as if done before the test); returns its uid."""
        self.neurons.append(StandInNeuron(hotkey, coldkey, self.head, round(stake * 1e9)))
        return len(self.neurons) - 1

    def advance(self, blocks: int) -> None:
        """Produce ``blocks`` empty blocks."""
        self.head += blocks

    def permits(self) -> list[bool]:
        """ValidatorPermit as the epoch sets it: top ``MAX_VALIDATORS`` by stake above the
        stake threshold."""
        ranked = sorted(range(len(self.neurons)), key=lambda u: (-self.neurons[u].stake_rao, u))
        top = {
            u for u in ranked[:MAX_VALIDATORS] if self.neurons[u].stake_rao >= STAKE_THRESHOLD_RAO
        }
        return [uid in top for uid in range(len(self.neurons))]

    def uid_of(self, hotkey: str) -> int | None:
        """The uid registered under ``hotkey`` on the subnet, or None."""
        for uid, neuron in enumerate(self.neurons):
            if neuron.hotkey == hotkey:
                return uid
        return None

    def as_substrate(self) -> Substrate:
        """This stand-in, typed as what ``SdkChain(substrate=...)`` takes.

        It answers only the methods ``SdkChain`` reaches (see the module docstring), not the
        whole ``Substrate`` protocol, so the type is asserted here rather than checked.
        """
        return cast("Substrate", self)

    # Lifecycle and display -----------------------------------------------------------------

    async def connect(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to release."""

    def balance(self, rao: int, netuid: int = 0) -> Balance:
        """A balance tagged with the subnet's symbol, as the RPC backend builds them."""
        return Balance.from_rao(rao, netuid, self.token_symbols.get(netuid))

    # Reads ---------------------------------------------------------------------------------

    async def block_number(self) -> int:
        return self.head

    async def finalized_block_number(self) -> int:
        return self.head

    async def block_hash(self, block: int | None = None) -> str | None:
        number = self.head if block is None else block
        if number > self.head:
            return None  # the head has not reached it yet, as a node answers
        return self._hash_of(number)

    def _hash_of(self, number: int) -> str:
        """The hash of block ``number``, remembered so a read pinned to it can find it."""
        digest = "0x" + hashlib.blake2b(number.to_bytes(8, "little"), digest_size=32).hexdigest()
        self._hash_numbers[digest] = number
        return digest

    def _block_at(self, block_hash: str | None) -> int:
        """The block number a read's ``block_hash`` pins (the head when None)."""
        if block_hash is None:
            return self.head
        if block_hash not in self._hash_numbers:
            raise StandInGap(f"block hash {block_hash} was never handed out by block_hash()")
        return self._hash_numbers[block_hash]

    async def block_time(self) -> float:
        return BLOCK_TIME_S

    async def query(
        self,
        module: str,
        storage_function: str,
        params: list | None = None,
        block_hash: str | None = None,
    ) -> Any:
        return self._read_storage(module, storage_function, list(params or []))

    async def query_map(
        self,
        module: str,
        storage_function: str,
        params: list | None = None,
        block_hash: str | None = None,
    ) -> list[tuple[Any, Any]]:
        if (module, storage_function) == ("SubtensorModule", "TokenSymbol"):
            return [(self.netuid, list("α".encode()))]
        at = self._block_at(block_hash)
        if module == "Commitments":
            return self._commitment_map(storage_function, list(params or []), at)
        if (module, storage_function) == ("SubtensorModule", "Uids"):
            return [(n.hotkey, uid) for uid, n in enumerate(self.neurons) if n.registered_at <= at]
        raise StandInGap(f"query_map {module}.{storage_function} is not modelled")

    def _commitment_map(self, item: str, params: list, at: int) -> list[tuple[Any, Any]]:
        """``Commitments.<item>`` under ``[netuid]`` at block ``at``, decoded as a node does.

        ``CommitmentOf`` yields ``(hotkey, {"deposit", "block", "info": {"fields": [...]}})``
        with each field a one-key dict like ``{"Raw5": "0x..."}`` (what the SDK's
        ``metagraph._decode_fields`` reads); nothing is timelocked here, so
        ``RevealedCommitments`` is empty.
        """
        if item == "RevealedCommitments":
            return []
        if item != "CommitmentOf":
            raise StandInGap(f"query_map Commitments.{item} is not modelled")
        if params[:1] != [self.netuid]:
            return []  # another subnet: an empty map, as a node answers
        out = []
        for hotkey, history in self.commitment_history.items():
            records = [record for block, record in history if block <= at]
            if records:
                out.append((hotkey, records[-1]))
        return out

    def _read_storage(self, module: str, item: str, params: list) -> Any:
        if module == "MevShield" and item == "NextKey":
            return "0x" + bytes(MLKEM768_PUBLIC_KEY_BYTES).hex()
        if module == "System" and item == "Account":
            return {"nonce": self._nonces.get(params[0], 0), "data": {"free": 10**12}}
        if module != "SubtensorModule":
            raise StandInGap(f"query {module}.{item} is not modelled")
        if item in self.hyper:
            self._check_netuid(params[0])
            return self.hyper[item]
        if item == "Uids":
            self._check_netuid(params[0])
            return self.uid_of(params[1])
        if item == "LastUpdate":
            self._check_netuid(params[0])  # mechanism 0's storage index is the netuid
            return [n.last_update for n in self.neurons]
        if item == "ValidatorPermit":
            self._check_netuid(params[0])
            return self.permits()
        raise StandInGap(f"query SubtensorModule.{item} is not modelled")

    def _check_netuid(self, netuid: int) -> None:
        if netuid != self.netuid:
            raise StandInGap(f"only netuid {self.netuid} exists here, asked for {netuid}")

    async def runtime_call(
        self, api: str, method: str, params: list, block_hash: str | None = None
    ) -> Any:
        if (api, method) == ("SubnetInfoRuntimeApi", "get_metagraph"):
            return self._metagraph() if params[0] == self.netuid else None
        if (api, method) == ("SubnetInfoRuntimeApi", "get_next_epoch_start_block"):
            if params[0] != self.netuid or not self.hyper["Tempo"]:
                return None
            return self.hyper["LastEpochBlock"] + self.hyper["Tempo"] + 1
        raise StandInGap(f"runtime call {api}.{method} is not modelled")

    def _metagraph(self) -> dict[str, Any]:
        """The decoded ``get_metagraph`` record, trimmed to the columns the SDK lifts."""
        n = len(self.neurons)
        zero_axon = {
            "block": 0,
            "version": 0,
            "ip": 0,
            "port": 0,
            "ip_type": 0,
            "protocol": 0,
            "placeholder1": 0,
            "placeholder2": 0,
        }
        stakes = [neuron.stake_rao for neuron in self.neurons]
        owner = self.neurons[0] if self.neurons else StandInNeuron("", "", 0)
        return {
            "netuid": self.netuid,
            "name": list(b"datacomp"),
            "symbol": list("α".encode()),
            "block": self.head,
            "tempo": self.hyper["Tempo"],
            "last_step": self.hyper["LastEpochBlock"],
            "blocks_since_last_step": self.head - self.hyper["LastEpochBlock"],
            "owner_hotkey": owner.hotkey,
            "owner_coldkey": owner.coldkey,
            "network_registered_at": 1,
            "num_uids": n,
            "max_uids": 256,
            "hotkeys": [neuron.hotkey for neuron in self.neurons],
            "coldkeys": [neuron.coldkey for neuron in self.neurons],
            "identities": [None] * n,
            "axons": [neuron.axon or zero_axon for neuron in self.neurons],
            "active": [True] * n,
            "validator_permit": self.permits(),
            "last_update": [neuron.last_update for neuron in self.neurons],
            "block_at_registration": [neuron.registered_at for neuron in self.neurons],
            "rank": [0] * n,
            "trust": [0] * n,
            "consensus": [0] * n,
            "incentives": [0] * n,
            "dividends": [0] * n,
            "pruning_score": [U16_MAX] * n,
            "emission": [0] * n,
            "alpha_stake": stakes,
            "tao_stake": [0] * n,
            "total_stake": stakes,
            "tao_in": 10**12,
            "alpha_in": 10**12,
            "moving_price": {"bits": 2**32},
        }

    # Calls and fees ------------------------------------------------------------------------

    async def compose(self, call: Any) -> Any:
        """Record and return the generated ``Call(module, function, params)`` as composed.

        A ``set_commitment`` whose fields the runtime's types cannot encode is refused here,
        where a node's codec would refuse it (``ValueError``).
        """
        if (call.module, call.function) == ("Commitments", "set_commitment"):
            _commitment_fields(call.params["info"])
        self.composed.append(call)
        return call

    async def estimate_fee(self, call: Any, keypair: Any) -> Balance:
        return Balance.from_rao(100_000)  # ~0.0001 TAO, the order of a real weight-set fee

    async def account_next_index(self, address: str) -> int:
        return self._nonces.get(address, 0)

    async def mev_next_key(self) -> bytes | None:
        value = self._read_storage("MevShield", "NextKey", [])
        return bytes.fromhex(value.removeprefix("0x"))

    async def sign_extrinsic(
        self, call: Any, keypair: Any, *, nonce: int, period: int
    ) -> tuple[bytes, str]:
        """A signed inner extrinsic (for the shielded path): its bytes and hash."""
        data = repr((call, keypair.ss58_address, nonce)).encode()
        digest = "0x" + hashlib.blake2b(data, digest_size=32).hexdigest()
        self._signed[digest] = (call, keypair.ss58_address)
        return data, digest

    async def find_extrinsic(self, extrinsic_hash: str, block_hash: str) -> ExtrinsicResult | None:
        return self._receipts.get(extrinsic_hash)

    # Writes --------------------------------------------------------------------------------

    async def submit(
        self,
        call: Any,
        keypair: Any,
        *,
        nonce: int | None = None,
        period: int | None = None,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        """Include ``call`` in the next block, dispatching it against the state."""
        signer = keypair.ss58_address
        self._nonces[signer] = self._nonces.get(signer, 0) + 1
        self.head += 1
        result = self._dispatch(call, signer, index=1)
        if (call.module, call.function) == ("MevShield", "submit_encrypted"):
            # The block author decrypts the carrier and includes the signed inner extrinsic
            # after it, in the same block.
            for digest, (inner, inner_signer) in list(self._signed.items()):
                self._receipts[digest] = self._dispatch(inner, inner_signer, index=2)
                del self._signed[digest]
            self._nonces[signer] += 1  # the inner extrinsic used nonce + 1
        return result

    def _dispatch(self, call: Any, signer: str, *, index: int) -> ExtrinsicResult:
        self.submitted.append(
            Submitted(call.module, call.function, dict(call.params), signer, self.head)
        )
        error = self._apply(call.module, call.function, call.params, signer)
        if error is not None:
            result = ExtrinsicResult(
                success=False,
                message=error,
                extrinsic_id=f"{self.head}-{index:04d}",
                error=SdkChainError(error, error.split(":")[0]),
            )
            self.failed.append(result)
            return result
        return ExtrinsicResult(
            success=True,
            message="Success",
            block_hash=self._hash_now(),
            extrinsic_id=f"{self.head}-{index:04d}",
            fee=Balance.from_rao(100_000),
        )

    def _hash_now(self) -> str:
        return self._hash_of(self.head)

    def _apply(self, module: str, function: str, params: dict[str, Any], signer: str) -> str | None:
        """Change the state as the pallet would; returns an error name or None."""
        if module == "MevShield":
            return None
        if module == "Commitments":
            return self._set_commitment(function, params, signer)
        return self._apply_subtensor(function, params, signer)

    def _apply_subtensor(self, function: str, params: dict[str, Any], signer: str) -> str | None:
        """A ``SubtensorModule`` call, dispatched against the state."""
        if params.get("netuid") != self.netuid:
            return "MechanismDoesNotExist: no such subnet"
        if function == "burned_register":
            if self.uid_of(params["hotkey"]) is not None:
                return "HotKeyAlreadyRegisteredInSubNet: already registered"
            self.neurons.append(StandInNeuron(params["hotkey"], signer, self.head))
            return None
        uid = self.uid_of(signer)
        if uid is None:
            return "HotKeyNotRegisteredInSubNet: the signing hotkey is not registered"
        neuron = self.neurons[uid]
        if function == "serve_axon":
            ipaddress.ip_address(params["ip"])  # the pallet refuses an undecodable address
            neuron.axon = {
                key: params[key] for key in ("version", "ip", "port", "ip_type", "protocol")
            }
            return None
        if function in ("set_mechanism_weights", "commit_timelocked_mechanism_weights"):
            self_weight = params.get("dests") == [uid]
            if not self_weight and not self.permits()[uid]:
                return "NeuronNoValidatorPermit: the hotkey has no validator permit"
            if function == "set_mechanism_weights":
                neuron.weights = dict(zip(params["dests"], params["weights"], strict=True))
            neuron.last_update = self.head
            return None
        raise StandInGap(f"dispatch of SubtensorModule.{function} is not modelled")

    def _set_commitment(self, function: str, params: dict[str, Any], signer: str) -> str | None:
        """``Commitments.set_commitment`` as the pallet dispatches it; an error name or None."""
        if function != "set_commitment":
            raise StandInGap(f"dispatch of Commitments.{function} is not modelled")
        if params["netuid"] != self.netuid or self.uid_of(signer) is None:
            return "AccountNotAllowedCommit: the signer holds no uid on the subnet"
        fields = _commitment_fields(params["info"])
        if len(fields) > MAX_FIELDS:
            return f"TooManyFieldsInCommitmentInfo: {len(fields)} fields, at most {MAX_FIELDS}"
        required = max(MIN_SPACE, sum(_raw_length(entry) for entry in fields))
        epoch = (self.head + self.netuid + 1) // (self.hyper["Tempo"] + 1)
        last_epoch, used = self._used_space.get(signer, (epoch, 0))
        if last_epoch != epoch:
            used = 0
        if used + required > MAX_SPACE:
            return f"SpaceLimitExceeded: {used} + {required} bytes exceed {MAX_SPACE} this epoch"
        self._used_space[signer] = (epoch, used + required)
        record = {"deposit": 0, "block": self.head, "info": {"fields": fields}}
        self.commitment_history.setdefault(signer, []).append((self.head, record))
        return None


def _commitment_fields(info: Any) -> list[dict[str, str]]:
    """The Data fields of a composed ``CommitmentInfo``; ``ValueError`` when not encodable.

    ``fields`` is a ``BoundedVec<Data, MaxFields>``, composed as the newtype around its Vec:
    a one-element list holding the list of fields. Each field is a one-key dict
    ``{"Raw<n>": "0x" + n bytes of hex}`` with n in 0..128.
    """
    wrapped = info.get("fields") if isinstance(info, dict) else None
    if not (isinstance(wrapped, list) and len(wrapped) == 1 and isinstance(wrapped[0], list)):
        raise ValueError(f"CommitmentInfo.fields must be [[field, ...]], got {wrapped!r}")
    fields: list[dict[str, str]] = wrapped[0]
    for entry in fields:
        _raw_length(entry)
    return fields


def _raw_length(entry: Any) -> int:
    """The byte length of one ``{"Raw<n>": "0x..."}`` field; ``ValueError`` when malformed."""
    if not (isinstance(entry, dict) and len(entry) == 1):
        raise ValueError(f"a Data field is a one-key dict, got {entry!r}")
    ((variant, payload),) = entry.items()
    match = _RAW_VARIANT.fullmatch(variant)
    if match is None:
        raise StandInGap(f"Data::{variant} is not modelled (Raw0..Raw128 only)")
    size = int(match.group(1))
    if size > MAX_RAW_BYTES:
        raise ValueError(f"Data has no variant {variant} (Raw0..Raw{MAX_RAW_BYTES})")
    if not isinstance(payload, str) or len(bytes.fromhex(payload.removeprefix("0x"))) != size:
        raise ValueError(f"Data::{variant} holds exactly {size} bytes, got {payload!r}")
    return size
