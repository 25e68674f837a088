"""The embedded local chain: one SQLite file that every process of a local network shares.

A laptop or CI run has no subtensor node, so the validator, the miners and the API open the
same file and see one chain. Blocks advance with wall time from a genesis stored in the file,
and every write is one ``BEGIN IMMEDIATE`` transaction, so two processes registering at the
same moment get distinct uids and a weight set in one process is visible in the next read of
another.

The rules are the real chain's where this project depends on them:

- registration is per hotkey, idempotent, assigns the next uid, and refuses a full subnet
  (the real chain would prune the lowest-scoring non-immune uid instead);
- validator permits go to the top ``max_validators`` uids by stake among those holding at
  least ``min_validator_stake`` (the real chain recomputes them at each epoch; here they are
  derived on every read);
- a weight set needs a registered hotkey, ``weights_rate_limit`` blocks since its last set, a
  validator permit unless it is a self-weight, and is conformed by ``conform_weights``: the
  SDK's own clip, u16 normalisation and ``min_allowed_weights`` check.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bittensor.sp_core import Keypair

from protocol.chain.base import (
    MAX_COMMITMENT_BYTES,
    ChainError,
    Commitment,
    Neuron,
    NotRegisteredError,
    NoValidatorPermitError,
    RateLimitedError,
    WeightRules,
    conform_weights,
    max_weight_limit_u16,
)

RAO_PER_TOKEN = 1_000_000_000  # the chain counts stake in rao: 1e9 rao per whole token
BUSY_TIMEOUT_S = 30.0  # a writer waits this long for another process's transaction to end
SCHEMA_VERSION = 1  # bump when the tables change; an older file is refused, not migrated

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subnets (
    netuid INTEGER PRIMARY KEY,
    tempo INTEGER NOT NULL,
    weights_rate_limit INTEGER NOT NULL,
    min_allowed_weights INTEGER NOT NULL,
    max_weight_limit INTEGER NOT NULL,
    max_uids INTEGER NOT NULL,
    max_validators INTEGER NOT NULL,
    min_validator_stake_rao INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS neurons (
    netuid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    coldkey TEXT NOT NULL,
    ip TEXT,
    port INTEGER,
    registered_at INTEGER NOT NULL,
    last_update INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (netuid, uid),
    UNIQUE (netuid, hotkey)
);
CREATE TABLE IF NOT EXISTS stake (
    netuid INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    rao INTEGER NOT NULL,
    PRIMARY KEY (netuid, hotkey)
);
CREATE TABLE IF NOT EXISTS weights (
    netuid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    dest INTEGER NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (netuid, uid, dest)
);
CREATE TABLE IF NOT EXISTS commitments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    netuid INTEGER NOT NULL,
    hotkey TEXT NOT NULL,
    block INTEGER NOT NULL,
    data TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LocalParams:
    """A local subnet's hyperparameters; defaults suit a network of a few neurons on a laptop."""

    tempo: int = 100  # blocks per epoch: 100 s at the default 1 s block, vs 360 x 12 s on finney
    weights_rate_limit: int = 10  # blocks between weight sets: a 10 s floor between rounds
    min_allowed_weights: int = 1  # a two-miner local net must be able to set weights at all
    max_weight_limit: float = 1.0  # no clip by default: with 2 miners any cap forces equal weights
    max_uids: int = 256  # finney's usual subnet size
    max_validators: int = 64  # finney's default number of validator permits
    min_validator_stake: float = 1.0  # whole tokens; the local faucet must stake a validator

    def rules(self) -> WeightRules:
        """The weight-setting subset of these parameters."""
        return WeightRules(
            weights_rate_limit=self.weights_rate_limit,
            min_allowed_weights=self.min_allowed_weights,
            max_weight_limit=self.max_weight_limit,
            tempo=self.tempo,
        )


class LocalChain:
    """An embedded chain for one netuid, stored in a SQLite file shared across processes."""

    def __init__(
        self,
        path: Path,
        netuid: int = 1,
        *,
        params: LocalParams | None = None,
        block_time_s: float = 1.0,  # local nets want fast rounds; finney's block is 12 s
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Open (or create) the chain file at ``path`` and the subnet ``netuid`` in it.

        ``params`` overwrites the subnet's stored hyperparameters (like a sudo call); ``None``
        keeps what the file holds, or ``LocalParams()`` for a new subnet. ``block_time_s`` is
        only used when the file is created: genesis and block time live in the file so that
        every process counts the same blocks. ``clock`` returns unix seconds.
        """
        self.path = Path(path)
        self.netuid = netuid
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            with self._transaction(conn):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema', ?), ('genesis', ?), "
                    "('block_time_s', ?)",
                    (str(SCHEMA_VERSION), repr(self._clock()), repr(block_time_s)),
                )
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                if int(meta["schema"]) != SCHEMA_VERSION:
                    raise ChainError(
                        f"{self.path} holds schema {meta['schema']}, expected {SCHEMA_VERSION}"
                    )
                self._genesis = float(meta["genesis"])
                self._block_time_s = float(meta["block_time_s"])
                exists = conn.execute(
                    "SELECT 1 FROM subnets WHERE netuid = ?", (netuid,)
                ).fetchone()
                if params is not None or exists is None:
                    self._write_params(conn, params or LocalParams())

    # Storage plumbing ---------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """A connection in autocommit mode: transactions are opened explicitly."""
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        # WAL with NORMAL sync is crash-safe; only a power cut can lose the last commits,
        # which a local chain can afford for ~10x cheaper writes than FULL.
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: take the write lock up front so read-then-write is atomic."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A connection inside one write transaction, closed afterwards."""
        with closing(self._connect()) as conn, self._transaction(conn):
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A connection for one consistent read (a deferred transaction: a WAL snapshot)."""
        with closing(self._connect()) as conn:
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _write_params(self, conn: sqlite3.Connection, params: LocalParams) -> None:
        values = asdict(params)
        values["max_weight_limit"] = max_weight_limit_u16(params.rules())
        values["min_validator_stake_rao"] = round(values.pop("min_validator_stake") * RAO_PER_TOKEN)
        conn.execute(
            "INSERT OR REPLACE INTO subnets VALUES (:netuid, :tempo, :weights_rate_limit, "
            ":min_allowed_weights, :max_weight_limit, :max_uids, :max_validators, "
            ":min_validator_stake_rao)",
            {"netuid": self.netuid, **values},
        )

    def _params(self, conn: sqlite3.Connection) -> LocalParams:
        row = conn.execute(
            "SELECT tempo, weights_rate_limit, min_allowed_weights, max_weight_limit, max_uids, "
            "max_validators, min_validator_stake_rao FROM subnets WHERE netuid = ?",
            (self.netuid,),
        ).fetchone()
        tempo, rate, min_weights, max_u16, max_uids, max_validators, min_rao = row
        return LocalParams(
            tempo=tempo,
            weights_rate_limit=rate,
            min_allowed_weights=min_weights,
            max_weight_limit=max_u16 / 65535,
            max_uids=max_uids,
            max_validators=max_validators,
            min_validator_stake=min_rao / RAO_PER_TOKEN,
        )

    def _uid_of(self, conn: sqlite3.Connection, hotkey_ss58: str) -> int | None:
        row = conn.execute(
            "SELECT uid FROM neurons WHERE netuid = ? AND hotkey = ?", (self.netuid, hotkey_ss58)
        ).fetchone()
        return None if row is None else int(row[0])

    def _require_uid(self, conn: sqlite3.Connection, hotkey_ss58: str) -> int:
        uid = self._uid_of(conn, hotkey_ss58)
        if uid is None:
            raise NotRegisteredError(f"hotkey {hotkey_ss58} is not registered on {self.netuid}")
        return uid

    def _permits(self, conn: sqlite3.Connection, params: LocalParams) -> set[int]:
        """Uids holding a validator permit.

        The top ``max_validators`` by stake (ties to the lower uid) among those with at least
        ``min_validator_stake``.
        """
        min_rao = round(params.min_validator_stake * RAO_PER_TOKEN)
        rows = conn.execute(
            "SELECT n.uid FROM neurons n JOIN stake s ON s.netuid = n.netuid AND s.hotkey = "
            "n.hotkey WHERE n.netuid = ? AND s.rao >= ? AND s.rao > 0 "
            "ORDER BY s.rao DESC, n.uid ASC LIMIT ?",
            (self.netuid, min_rao, params.max_validators),
        ).fetchall()
        return {int(uid) for (uid,) in rows}

    # The Chain protocol -------------------------------------------------------------------

    def block(self) -> int:
        """Blocks since genesis, at ``block_time_s`` per block."""
        return max(0, int((self._clock() - self._genesis) / self._block_time_s))

    def weight_rules(self) -> WeightRules:
        """The subnet's weight hyperparameters as stored in the file."""
        with self._read() as conn:
            return self._params(conn).rules()

    def blocks_until_next_epoch(self) -> int:
        """Blocks left to the next epoch, by subtensor's fixed schedule.

        That is ``tempo - (block + netuid + 1) % (tempo + 1)``; the epoch runs at the block
        where it is 0. (The live chain can move an epoch: an owner trigger, a per-block cap.)
        """
        tempo = self.weight_rules().tempo
        if tempo == 0:
            raise ChainError(f"subnet {self.netuid} has tempo 0 and never runs epochs")
        return tempo - (self.block() + self.netuid + 1) % (tempo + 1)

    def metagraph(self) -> list[Neuron]:
        """Every registered uid, ordered by uid."""
        with self._read() as conn:
            permits = self._permits(conn, self._params(conn))
            rows = conn.execute(
                "SELECT n.uid, n.hotkey, n.coldkey, COALESCE(s.rao, 0), n.ip, n.port, "
                "n.last_update FROM neurons n LEFT JOIN stake s ON s.netuid = n.netuid AND "
                "s.hotkey = n.hotkey WHERE n.netuid = ? ORDER BY n.uid",
                (self.netuid,),
            ).fetchall()
        return [
            Neuron(
                uid=uid,
                hotkey=hotkey,
                coldkey=coldkey,
                stake=rao / RAO_PER_TOKEN,
                validator_permit=uid in permits,
                endpoint=_endpoint(ip, port),
                last_update=last_update,
            )
            for uid, hotkey, coldkey, rao, ip, port, last_update in rows
        ]

    def register(self, hotkey: Keypair, coldkey_ss58: str) -> int:
        """Give ``hotkey`` the next uid, or return the one it holds.

        Refuses a full subnet, and a hotkey already owned by another coldkey.
        """
        with self._write() as conn:
            row = conn.execute(
                "SELECT uid, coldkey FROM neurons WHERE netuid = ? AND hotkey = ?",
                (self.netuid, hotkey.ss58_address),
            ).fetchone()
            if row is not None:
                if row[1] != coldkey_ss58:
                    raise ChainError(
                        f"hotkey {hotkey.ss58_address} is already owned by coldkey {row[1]}"
                    )
                return int(row[0])
            params = self._params(conn)
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM neurons WHERE netuid = ?", (self.netuid,)
            ).fetchone()
            if count >= params.max_uids:
                raise ChainError(f"subnet {self.netuid} is full ({params.max_uids} uids)")
            conn.execute(
                "INSERT INTO neurons (netuid, uid, hotkey, coldkey, registered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (self.netuid, count, hotkey.ss58_address, coldkey_ss58, self.block()),
            )
            return int(count)

    def serve(self, hotkey: Keypair, ip: str, port: int) -> None:
        """Store the endpoint of a registered hotkey."""
        address = ipaddress.ip_address(ip)  # raises ValueError on a malformed address
        if not 0 < port < 65536:
            raise ChainError(f"port {port} is outside 1..65535")
        with self._write() as conn:
            uid = self._require_uid(conn, hotkey.ss58_address)
            conn.execute(
                "UPDATE neurons SET ip = ?, port = ? WHERE netuid = ? AND uid = ?",
                (str(address), port, self.netuid, uid),
            )

    def set_weights(self, hotkey: Keypair, weights: dict[int, float]) -> dict[int, int]:
        """Set the hotkey's weights under the chain's rules; returns the stored u16 weights."""
        block = self.block()
        with self._write() as conn:
            uid = self._require_uid(conn, hotkey.ss58_address)
            params = self._params(conn)
            (last_update,) = conn.execute(
                "SELECT last_update FROM neurons WHERE netuid = ? AND uid = ?",
                (self.netuid, uid),
            ).fetchone()
            since = block - last_update
            if last_update > 0 and since < params.weights_rate_limit:
                raise RateLimitedError(
                    f"weights were set {since} blocks ago; the rate limit is "
                    f"{params.weights_rate_limit} blocks"
                )
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM neurons WHERE netuid = ?", (self.netuid,)
            ).fetchone()
            unknown = sorted(dest for dest in weights if not 0 <= dest < count)
            if unknown:
                raise ChainError(f"uids {unknown} are not registered on {self.netuid}")
            u16 = conform_weights(weights, params.rules(), own_uid=uid)
            if list(u16) != [uid] and uid not in self._permits(conn, params):
                raise NoValidatorPermitError(
                    f"uid {uid} has no validator permit (stake at least "
                    f"{params.min_validator_stake} and be in the top {params.max_validators})"
                )
            conn.execute("DELETE FROM weights WHERE netuid = ? AND uid = ?", (self.netuid, uid))
            conn.executemany(
                "INSERT INTO weights VALUES (?, ?, ?, ?)",
                [(self.netuid, uid, dest, value) for dest, value in u16.items()],
            )
            # Block 0 would read as "never set"; a set at genesis counts as block 1.
            conn.execute(
                "UPDATE neurons SET last_update = ? WHERE netuid = ? AND uid = ?",
                (max(block, 1), self.netuid, uid),
            )
        return u16

    def commit(self, hotkey: Keypair, data: str) -> Commitment:
        """TEMP (until chaincommit merges): store ``data`` as the hotkey's commitment now."""
        if len(data.encode()) > MAX_COMMITMENT_BYTES:
            raise ChainError(f"a commitment holds at most {MAX_COMMITMENT_BYTES} bytes")
        block = self.block()
        with self._write() as conn:
            self._require_uid(conn, hotkey.ss58_address)
            conn.execute(
                "INSERT INTO commitments (netuid, hotkey, block, data) VALUES (?, ?, ?, ?)",
                (self.netuid, hotkey.ss58_address, block, data),
            )
        return Commitment(hotkey.ss58_address, data, block)

    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        """TEMP (until chaincommit merges): each hotkey's latest commitment as of ``block``."""
        at = self.block() if block is None else block
        with self._read() as conn:
            rows = conn.execute(
                "SELECT hotkey, data, block FROM commitments WHERE netuid = ? AND block <= ? "
                "ORDER BY id",
                (self.netuid, at),
            ).fetchall()
        return {hotkey: Commitment(hotkey, data, int(b)) for hotkey, data, b in rows}

    # Local-only operations ----------------------------------------------------------------

    def add_stake(self, hotkey_ss58: str, amount: float) -> float:
        """Faucet: add ``amount`` whole tokens of stake to a hotkey; returns its new stake."""
        if not amount > 0:
            raise ChainError(f"stake amount must be positive, got {amount}")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO stake VALUES (?, ?, ?) ON CONFLICT (netuid, hotkey) "
                "DO UPDATE SET rao = rao + excluded.rao",
                (self.netuid, hotkey_ss58, round(amount * RAO_PER_TOKEN)),
            )
            (rao,) = conn.execute(
                "SELECT rao FROM stake WHERE netuid = ? AND hotkey = ?",
                (self.netuid, hotkey_ss58),
            ).fetchone()
        return int(rao) / RAO_PER_TOKEN

    def weights(self, uid: int) -> dict[int, int]:
        """The u16 weights uid ``uid`` last set, by destination uid (empty if never)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT dest, value FROM weights WHERE netuid = ? AND uid = ? ORDER BY dest",
                (self.netuid, uid),
            ).fetchall()
        return {int(dest): int(value) for dest, value in rows}

    def params(self) -> LocalParams:
        """The subnet's full local hyperparameters."""
        with self._read() as conn:
            return self._params(conn)

    def set_params(self, **changes: int | float) -> LocalParams:
        """Change some hyperparameters (the local stand-in for the owner's sudo calls)."""
        known = {f.name for f in fields(LocalParams)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ChainError(f"unknown hyperparameters {unknown}")
        with self._write() as conn:
            merged = LocalParams(**{**asdict(self._params(conn)), **changes})
            self._write_params(conn, merged)
        return merged

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own connection."""


def _endpoint(ip: str | None, port: int | None) -> str | None:
    """``ip:port`` as the SDK's metagraph renders it (IPv6 in brackets), None if unserved."""
    if ip is None or port is None:
        return None
    return f"[{ip}]:{port}" if ipaddress.ip_address(ip).version == 6 else f"{ip}:{port}"
