"""Commit before serving: the miner's manifest of what it serves, committed on chain, and proofs.

A miner commits ``manifest_commitment(hotkey, root)`` (``protocol/commitments.py``) of the
Merkle root over its samples (``protocol/manifest.py``) before it serves them, and every
response carries the root, the tree's size and one inclusion proof per sample. A validator
reads the commitment after its pull: a sample whose proof does not lead to the committed root
is rejected, and the commitment's block is the miner's earliest-holder priority in dedup. So
a copier who sees someone's data can commit it only later, and a miner cannot serve two
validators two different data sets under one commitment.

A ``ManifestBook`` proves a response's samples and guarantees, before it returns, that the
chain holds exactly this hotkey's binding of the root it proves against. Two books:

- ``PoolBook``, the production mode: the parent process materialises a fixed pool from the
  data source (``build_pool``), commits its root, then writes the pool to a manifest file
  (``write_manifest``, atomic); each worker serves, per round, a seeded selection of it
  (``PoolSource``) and proves against it. The file is reloaded when it changes (the parent
  refreshes the pool: ``PoolRefresher``), and the parent commits a new root *before* it
  swaps the file, so no worker ever proves against an uncommitted root. One commitment
  serves every round and every validator.
- ``ServeTimeBook``, for sources whose data exists only once the round is known (the local
  network's contaminator; tests): it keeps the current round's entries, adds each response's
  samples, and commits the new root when it changed. It races when several validators ask
  for different data in one round: each commit replaces the last, so a response proved
  before another validator's request changed the root no longer matches the chain when the
  first validator reads it. ``precommit`` commits a round's whole data up front in one
  commitment, which avoids the race for a caller that knows the data in advance.

Every commitment spends quota (31 per hotkey per epoch on the real chain) and moves the
hotkey's block later, losing earliest-holder priority, so ``ensure_committed`` commits only
when the chain does not already hold the same string.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bittensor.sp_core import Keypair
from pydantic import ValidationError

from common.atomic_file import write_text_atomic
from miner.selection import family_of, spread_selection
from miner.sources import DataSource, DataSourceError, Sample, _round_rng
from protocol.chain.base import Chain, ChainError, Commitment
from protocol.commitments import manifest_commitment
from protocol.manifest import Manifest, leaf_bytes
from protocol.schemas import SAMPLE_TYPES, Competition, SampleProof, first_error

log = logging.getLogger(__name__)

# The round id a pool is materialised under: any fixed string works, it only seeds the source.
POOL_ID = "manifest-pool"

# How often the parent looks at the dataset file (--source file): a changed dataset is served
# within seconds, and a stat every few seconds costs nothing.
WATCH_INTERVAL_S = 3.0


@dataclass(frozen=True)
class ProvenSamples:
    """A response's manifest fields: the committed root, the tree's size, a proof per sample."""

    manifest_root: str
    manifest_size: int
    proofs: list[SampleProof]


class ManifestBook(Protocol):
    """Proves the samples of a response against a manifest root committed on chain."""

    def prove(
        self, competition: Competition, samples: Sequence[Sample], round_id: str
    ) -> ProvenSamples:
        """The proofs of ``samples``; the root is committed on chain before this returns.

        Raises ``DataSourceError`` for a sample the manifest does not hold, ``ChainError``
        when the commitment cannot be written.
        """
        ...


def ensure_committed(chain: Chain, keypair: Keypair, manifest: Manifest) -> Commitment:
    """The hotkey's commitment of ``manifest``'s root, written only if the chain lacks it.

    Re-committing an unchanged root would move its block later (losing earliest-holder
    priority) and spend commitment quota, so a chain that already holds the same string for
    this hotkey is left as it is.
    """
    data = manifest_commitment(keypair.ss58_address, manifest.root)
    held = chain.commitments().get(keypair.ss58_address)
    if held is not None and held.data == data:
        return held
    return chain.commit(keypair, data)


def prove_all(
    manifest: Manifest, competition: Competition, samples: Sequence[Sample]
) -> ProvenSamples:
    """Proofs of ``samples`` in ``manifest``; ``DataSourceError`` for a sample it lacks."""
    proofs = []
    for index, sample in enumerate(samples):
        position = manifest.position(competition, sample)
        if position is None:
            raise DataSourceError(f"sample {index} is not in the committed manifest")
        proof = manifest.prove(position)
        proofs.append(SampleProof(leaf_index=proof.leaf_index, path=list(proof.path)))
    return ProvenSamples(manifest.root, manifest.size, proofs)


# ---- the manifest file ------------------------------------------------------------------


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write ``manifest`` as JSONL (``{"competition", "sample"}`` per line), atomically."""
    lines = (
        json.dumps(
            {"competition": competition.value, "sample": sample.model_dump()},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        + "\n"
        for competition, sample in manifest.entries
    )
    write_text_atomic(path, "".join(lines))


def _entry(record: object) -> tuple[Competition, Sample]:
    if not isinstance(record, dict) or set(record) != {"competition", "sample"}:
        raise ValueError('expected {"competition": ..., "sample": {...}}')
    competition = Competition(record["competition"])
    return competition, SAMPLE_TYPES[competition].model_validate(record["sample"])


def read_manifest(path: Path) -> Manifest:
    """The manifest a file written by ``write_manifest`` holds; ``DataSourceError`` if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{path}: cannot read the manifest: {exc}") from None
    entries: list[tuple[Competition, Sample]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(_entry(json.loads(line)))
        except ValidationError as exc:
            raise DataSourceError(f"{path}: line {lineno}: {first_error(exc)}") from None
        except ValueError as exc:  # JSON, an unknown competition, a wrong shape
            raise DataSourceError(f"{path}: line {lineno}: {exc}") from None
    try:
        return Manifest(entries)
    except ValueError as exc:
        raise DataSourceError(f"{path}: {exc}") from None


def build_pool(source: DataSource, competitions: Iterable[Competition], pool_size: int) -> Manifest:
    """A pool manifest: ``source.samples(c, pool_size, POOL_ID)`` per competition it serves.

    A sample repeated (within a competition) keeps its first place only. Raises
    ``DataSourceError`` when nothing is left to pool.
    """
    served = set(source.competitions())
    entries: list[tuple[Competition, Sample]] = []
    seen: set[bytes] = set()
    for competition in competitions:
        if competition not in served:
            continue
        for sample in source.samples(competition, pool_size, POOL_ID):
            leaf = leaf_bytes(competition, sample)
            if leaf not in seen:
                seen.add(leaf)
                entries.append((competition, sample))
    if not entries:
        raise DataSourceError("the source gave no samples to pool")
    try:
        return Manifest(entries)
    except ValueError as exc:
        raise DataSourceError(str(exc)) from None


# ---- the production mode: a committed pool ------------------------------------------------


class PoolBook:
    """Proves against the pool in a manifest file, reloaded whenever the file changes.

    The pool's root is checked on chain once per loaded pool (``ensure_committed``: the parent
    commits before it writes the file, so this normally finds the commitment and writes
    nothing; it commits itself only if the parent could not). Thread-safe.
    """

    def __init__(self, path: Path, chain: Chain, keypair: Keypair):
        self.path = path
        self._chain = chain
        self._keypair = keypair
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._manifest: Manifest | None = None
        self._committed: str | None = None  # the root last found (or made) committed

    def manifest(self) -> Manifest:
        """The pool as the file holds it now (re-read after a change)."""
        try:
            stat = os.stat(self.path)
        except OSError as exc:
            raise DataSourceError(f"{self.path}: no manifest: {exc}") from None
        stamp = (stat.st_mtime_ns, stat.st_ino, stat.st_size)
        with self._lock:
            if self._manifest is None or stamp != self._stamp:
                self._manifest = read_manifest(self.path)
                self._stamp = stamp
            return self._manifest

    def prove(
        self, competition: Competition, samples: Sequence[Sample], round_id: str
    ) -> ProvenSamples:
        """Proofs against the current pool, whose root is committed; see ``ManifestBook``."""
        manifest = self.manifest()
        proven = prove_all(manifest, competition, samples)
        with self._lock:
            if self._committed != manifest.root:
                ensure_committed(self._chain, self._keypair, manifest)
                self._committed = manifest.root
        return proven


class PoolSource:
    """A data source serving, per round, a seeded selection of a pool's samples.

    ``pool`` is the manifest, or a function returning the current one (``PoolBook.manifest``,
    so a refreshed pool is served as soon as it is committed). The selection is FileSource's:
    ``count`` of the competition's pool samples, seeded by ``seed`` and the round id, spread
    evenly over the task families (``miner/selection.py``).
    """

    def __init__(self, pool: Manifest | Callable[[], Manifest], seed: str):
        self._pool = pool
        self._seed = seed
        self._by_root: dict[str, dict[Competition, list[Sample]]] = {}

    def _current(self) -> dict[Competition, list[Sample]]:
        manifest = self._pool if isinstance(self._pool, Manifest) else self._pool()
        split = self._by_root.get(manifest.root)
        if split is None:
            split = {c: s for c in Competition if (s := manifest.samples(c))}
            self._by_root = {manifest.root: split}  # keep the current pool only
        return split

    def competitions(self) -> tuple[Competition, ...]:
        """The competitions the pool holds samples of."""
        return tuple(self._current())

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        """``count`` pool samples (all if fewer), in a per-round seeded order."""
        pool = self._current().get(competition)
        if pool is None:
            raise DataSourceError(f"the pool holds no {competition.value} samples")
        return spread_selection(pool, count, _round_rng(self._seed, round_id), family_of)


class PoolRefresher:
    """Rebuilds the pool when a watched file (the dataset) changes: commit, then swap.

    The parent process runs it (``start``: a daemon thread polling every ``interval_s``);
    ``check`` is one look. On a change it rebuilds the source and the pool and commits the new
    root *before* it replaces the manifest file, so a worker never proves against a root the
    chain never held (between the commit and the swap, a few milliseconds, responses still
    prove against the old root, which no longer matches the chain: one commitment slot per
    hotkey allows no overlap; the other order would have workers serve, and commit, a root
    the parent has not committed yet). A dataset that fails to load is logged and skipped until it changes
    again; a failed commit is retried at the next look (the old pool keeps being served).
    """

    def __init__(
        self,
        watched: Path,
        rebuild: Callable[[], Manifest],
        chain: Chain,
        keypair: Keypair,
        manifest_path: Path,
        interval_s: float = WATCH_INTERVAL_S,
    ):
        self.watched = watched
        self._rebuild = rebuild
        self._chain = chain
        self._keypair = keypair
        self._manifest_path = manifest_path
        self._interval_s = interval_s
        self._stamp = self._stat()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            stat = os.stat(self.watched)
        except OSError:
            return None
        return (stat.st_mtime_ns, stat.st_ino, stat.st_size)

    def check(self) -> Commitment | None:
        """One look: on a change, rebuild, commit, swap; the new commitment, else None."""
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return None
        try:
            manifest = self._rebuild()
        except DataSourceError as exc:
            log.error(
                "%s changed but cannot be pooled (still serving the old pool): %s",
                self.watched,
                exc,
            )
            self._stamp = stamp  # bad until it changes again
            return None
        commitment = ensure_committed(self._chain, self._keypair, manifest)  # before the swap
        write_manifest(self._manifest_path, manifest)
        self._stamp = stamp
        log.info(
            "pool refreshed from %s: root %s (%d samples) committed at block %d",
            self.watched,
            manifest.root,
            manifest.size,
            commitment.block,
        )
        return commitment

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.check()
            except ChainError as exc:
                log.error("pool refresh: commitment failed, retrying: %s", exc)
            except Exception:  # the watcher outlives any one look (a disk error, a bug)
                log.exception("pool refresh failed, retrying")

    def start(self) -> None:
        """Watch in a daemon thread until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="pool-refresher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the watching thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval_s + 5)


# ---- the serve-time mode: data that depends on the round ----------------------------------


class ServeTimeBook:
    """Commits the current round's data as it is served (for round-dependent sources).

    Keeps the entries of the current round id (reset when it changes), adds each response's
    samples, and commits the new root when it changed. The chain is read on every ``prove``,
    so worker processes of one miner serving the same data agree on one commitment. Races
    when validators ask for different data in one round (each commit replaces the last): the
    reason production miners use a pool (``PoolBook``). Thread-safe.
    """

    def __init__(self, chain: Chain, keypair: Keypair):
        self.chain = chain
        self.keypair = keypair
        self._lock = threading.Lock()
        self._round_id: str | None = None
        self._entries: list[tuple[Competition, Sample]] = []
        self._leaves: set[bytes] = set()
        self._manifest: Manifest | None = None

    def _add(self, round_id: str, competition: Competition, samples: Sequence[Sample]) -> None:
        if round_id != self._round_id:
            self._round_id, self._entries, self._leaves = round_id, [], set()
            self._manifest = None
        for sample in samples:
            leaf = leaf_bytes(competition, sample)
            if leaf not in self._leaves:
                self._leaves.add(leaf)
                self._entries.append((competition, sample))
                self._manifest = None

    def _current(self) -> Manifest:
        if self._manifest is None:
            try:
                self._manifest = Manifest(self._entries)
            except ValueError as exc:
                raise DataSourceError(f"nothing to commit: {exc}") from None
        return self._manifest

    def prove(
        self, competition: Competition, samples: Sequence[Sample], round_id: str
    ) -> ProvenSamples:
        """Add ``samples`` to the round's manifest, commit it if changed, prove them."""
        with self._lock:
            self._add(round_id, competition, samples)
            manifest = self._current()
            ensure_committed(self.chain, self.keypair, manifest)
            return prove_all(manifest, competition, samples)

    def precommit(self, round_id: str, data: Mapping[Competition, Sequence[Sample]]) -> Commitment:
        """Commit a round's whole data (``{competition: samples}``) up front, in one commitment."""
        with self._lock:
            for competition, samples in data.items():
                self._add(round_id, competition, samples)
            return ensure_committed(self.chain, self.keypair, self._current())
