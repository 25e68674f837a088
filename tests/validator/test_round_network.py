"""The round fixture commits its real miners' round data before the round, in uid order."""

from __future__ import annotations

from pathlib import Path

import redis
from bittensor.sp_core import Keypair

from miner.manifests import build_pool
from miner.sources import GeneratorSource, Sample
from protocol.commitments import manifest_commitment
from protocol.keys import Keys
from protocol.schemas import Competition
from tests.support.hostile_miner import HostileMiner
from tests.support.validator_fixture import MinerSpec, round_network


def test_precommit_binds_each_real_miners_round_data_in_registration_order(
    tmp_path: Path, redis_client: redis.Redis, keys: Keys
) -> None:
    miners = [
        MinerSpec("first", GeneratorSource("first")),
        MinerSpec(
            "hostile", app=HostileMiner(Keypair.create_from_uri("//Miner/hostile"), "honest")
        ),
        MinerSpec("offline", GeneratorSource("offline"), online=False),
        MinerSpec("second", GeneratorSource("second")),
    ]
    with round_network(tmp_path, redis_client, keys, (None, None), miners) as net:
        net.ctx.shares = {Competition.COT_SFT: 0.5, Competition.PREFERENCE: 0.5}
        net.precommit("round-1")
        held = net.chain.commitments()
        hotkeys = {n.uid: n.hotkey for n in net.chain.metagraph()}
        for name in ("first", "second"):
            hotkey = hotkeys[net.uids[name]]
            source = GeneratorSource(name)
            # What the round will ask: samples_per_miner of each competition with a share.
            round_data = build_pool(
                _RoundSource(source, "round-1"), list(Competition), net.ctx.samples_per_miner
            )
            assert held[hotkey].data == manifest_commitment(hotkey, round_data.root)
        for name in ("hostile", "offline"):
            assert hotkeys[net.uids[name]] not in held  # nothing of theirs to commit
        assert held[hotkeys[net.uids["first"]]].block <= held[hotkeys[net.uids["second"]]].block


class _RoundSource:
    """``source`` asked for one round, whatever round id ``build_pool`` passes."""

    def __init__(self, source: GeneratorSource, round_id: str):
        self._source, self._round_id = source, round_id

    def competitions(self) -> tuple[Competition, ...]:
        return self._source.competitions()

    def samples(self, competition: Competition, count: int, round_id: str) -> list[Sample]:
        return self._source.samples(competition, count, self._round_id)
