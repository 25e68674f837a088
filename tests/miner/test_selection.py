"""A round's selection: seeded, spread over the task families, a plain shuffle for one group."""

from __future__ import annotations

import random
from collections import Counter

from miner.manifests import PoolSource, build_pool
from miner.selection import family_of, spread_selection
from miner.sources import GeneratorSource
from protocol.schemas import Competition, CotSample, PreferenceSample


def _pool() -> list:
    return GeneratorSource("pool").samples(Competition.COT_SFT, 256, "pool")


def test_a_round_of_a_balanced_pool_holds_every_family_equally() -> None:
    pool = _pool()
    for seed in range(5):
        chosen = spread_selection(pool, 64, random.Random(seed), family_of)
        assert len(chosen) == 64 and len(set(map(id, chosen))) == 64
        assert set(Counter(map(family_of, chosen)).values()) == {16}


def test_the_selection_is_seeded() -> None:
    pool = _pool()
    a = spread_selection(pool, 64, random.Random(1), family_of)
    assert a == spread_selection(pool, 64, random.Random(1), family_of)
    assert a != spread_selection(pool, 64, random.Random(2), family_of)


def test_one_group_is_exactly_the_seeded_shuffle() -> None:
    items = list(range(50))
    shuffled = list(items)
    random.Random(7).shuffle(shuffled)
    assert spread_selection(items, 20, random.Random(7), lambda _: None) == shuffled[:20]


def test_a_short_group_gives_way_and_a_large_request_takes_everything() -> None:
    items = [("a", i) for i in range(30)] + [("b", i) for i in range(4)]
    chosen = spread_selection(items, 20, random.Random(0), lambda x: x[0])
    assert Counter(g for g, _ in chosen) == {"a": 16, "b": 4}
    assert sorted(spread_selection(items, 100, random.Random(0), lambda x: x[0])) == sorted(items)
    assert spread_selection(items, 0, random.Random(0), lambda x: x[0]) == []


def test_family_of_reads_the_registry_and_nothing_else() -> None:
    assert all(family_of(s) is not None for s in _pool())
    prose = CotSample(prompt="Write a haiku about rain.", chain_of_thought="...", final_answer="ok")
    assert family_of(prose) is None
    pair = PreferenceSample(prompt="How do I bake bread?", chosen="Mix flour.", rejected="No.")
    assert family_of(pair) is None


def test_the_production_pool_serves_each_round_spread_over_the_families() -> None:
    pool = build_pool(GeneratorSource("honest"), [Competition.COT_SFT], 1024)
    source = PoolSource(pool, "honest")
    for round_id in ("r1", "r2", "r3"):
        served = source.samples(Competition.COT_SFT, 64, round_id)
        assert set(Counter(map(family_of, served)).values()) == {16}
    assert source.samples(Competition.COT_SFT, 64, "r1") != source.samples(
        Competition.COT_SFT, 64, "r2"
    )
