"""The contaminator's own entry point: the miner's wiring, the leaked eval set as its source.

A real process (``localnet/leak_miner.py`` as the local network starts it) with two uvicorn
workers, each of which builds its app from the environment: every worker must serve the
round's eval items, proved against the one root committed on chain (serve-time manifests:
the first answer of the round commits it, the other worker finds it committed). The cast must
run it, and the production miner nothing of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
import redis
from bittensor import http_auth
from bittensor.sp_core import Keypair

from localnet.cast import DEMO_MINER_SCRIPT, LEAK_MINER_SCRIPT, MINER_SCRIPT, cast
from localnet.demo_miner import DemoMinerSettings, degraded_source
from localnet.leak import LeakedEvalSource
from localnet.leak_miner import LeakMinerSettings, leaked_source
from localnet.network import start_waves
from miner.config import MinerSettings
from miner.sources import GeneratorSource
from protocol.chain.local import LocalChain
from protocol.cli import parse_settings
from protocol.commitments import manifest_commitment
from protocol.redis_conn import embedded_url
from protocol.schemas import SUBMISSION_PATH, Competition, CotSample, SubmissionResponse
from protocol.wallets import ensure_wallet
from tasks.quality import Quality
from tests.support.proofs import unproven
from tests.support.servers import free_port, stop_process, wait_healthy
from validator.evalsets.cot import draw_eval_set

REPO = Path(__file__).resolve().parents[2]
WORKERS = 2
EVAL_ITEMS = 8
SECRET = "leaked-secret"

pytestmark = pytest.mark.timeout(120)


def test_the_cast_runs_every_simulation_on_its_own_entry_point() -> None:
    roles = {role.name: role for role in cast(SECRET, EVAL_ITEMS)}
    scripts = {name: role.script for name, role in roles.items()}
    assert scripts == {
        "honest": MINER_SCRIPT,
        "teacher": DEMO_MINER_SCRIPT,
        "sloppy": DEMO_MINER_SCRIPT,
        "copycat": MINER_SCRIPT,
        "contaminator": LEAK_MINER_SCRIPT,
    }
    for script in set(scripts.values()):
        assert (REPO / script).is_file(), script
    programs: dict[str, type[MinerSettings]] = {
        MINER_SCRIPT: MinerSettings,
        DEMO_MINER_SCRIPT: DemoMinerSettings,
        LEAK_MINER_SCRIPT: LeakMinerSettings,
    }
    for role in roles.values():  # each role's flags parse with its program's settings
        parse_settings(programs[role.script], list(role.source_args), role.name)
    sloppy = parse_settings(DemoMinerSettings, list(roles["sloppy"].source_args), "s")
    generated = degraded_source(sloppy, "hk").samples(Competition.COT_SFT, 4, "r")
    assert generated == GeneratorSource("sloppy", Quality.WRONG).samples(
        Competition.COT_SFT, 4, "r"
    )
    settings = parse_settings(LeakMinerSettings, list(roles["contaminator"].source_args), "c")
    assert settings.leak_secret.get_secret_value() == SECRET
    assert settings.leak_eval_items == EVAL_ITEMS
    source = leaked_source(settings, "hk")
    assert isinstance(source, LeakedEvalSource)
    assert source.samples(Competition.COT_SFT, 2, "r") == LeakedEvalSource(
        SECRET, EVAL_ITEMS
    ).samples(Competition.COT_SFT, 2, "r")


def test_the_copycat_starts_once_honest_has_committed() -> None:
    roles = cast(SECRET, EVAL_ITEMS)
    waves = [[role.name for role in wave] for wave in start_waves(roles)]
    assert waves == [["honest", "teacher", "sloppy", "contaminator"], ["copycat"]]
    assert [r.name for r in roles].index("honest") < [r.name for r in roles].index("copycat")
    with pytest.raises(ValueError, match="not in the cast"):
        start_waves([replace(roles[3], commits_after="nobody")])


def test_the_leak_miner_needs_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_settings(LeakMinerSettings, [], "c")
    assert "--leak-secret (DATACOMP_LEAK_MINER_LEAK_SECRET): Field required" in (
        capsys.readouterr().err
    )


def test_every_worker_serves_the_leaked_eval_set(
    tmp_path: Path, embedded_redis: redis.Redis, bob: Keypair
) -> None:
    wallets = tmp_path / "wallets"
    miner_key = ensure_wallet("contaminator", "default", wallets)
    chain_path = tmp_path / "chain.sqlite"
    chain = LocalChain(chain_path)
    chain.register(bob, bob.ss58_address)
    chain.add_stake(bob.ss58_address, 1000.0)
    port = free_port()
    args = [
        *("--wallet.name", "contaminator", "--wallet.hotkey", "default"),
        *("--wallet.path", str(wallets), "--subtensor.network", "local-embedded"),
        *("--chain.path", str(chain_path), "--axon.port", str(port)),
        *("--redis.url", embedded_url(embedded_redis), "--workers", str(WORKERS)),
        *("--ledger-path", str(tmp_path / "ledger.jsonl")),
        *("--leak-secret", SECRET, "--leak-eval-items", str(EVAL_ITEMS)),
    ]
    server = subprocess.Popen(
        [sys.executable, LEAK_MINER_SCRIPT, *args],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("DATACOMP_")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # stop_process signals its workers with it
    )
    try:
        wait_healthy(server, port, 90, "the leak miner")
        # Registered and serving on the chain, like any miner.
        [served] = [n for n in chain.metagraph() if n.hotkey == miner_key.ss58_address]
        assert served.endpoint == f"127.0.0.1:{port}"
        round_id = "r-leak"
        expected = [
            CotSample(
                prompt=it.prompt, chain_of_thought=it.chain_of_thought, final_answer=it.final_answer
            )
            for it in draw_eval_set(SECRET, round_id, EVAL_ITEMS).items
        ]
        body = f'{{"competition":"cot_sft","round_id":"{round_id}","num_samples":{EVAL_ITEMS}}}'
        roots = set()
        for _ in range(3 * WORKERS):  # fresh connections, spread over the workers
            headers = http_auth.sign(
                bob,
                method="POST",
                path=SUBMISSION_PATH,
                body=body.encode(),
                receiver_ss58=miner_key.ss58_address,
            )
            with httpx.Client() as client:
                response = client.post(
                    f"http://127.0.0.1:{port}{SUBMISSION_PATH}", content=body, headers=headers
                )
            assert response.status_code == 200, response.text
            answer = SubmissionResponse.model_validate_json(response.content)
            assert answer.samples == expected
            assert unproven(answer) == []
            roots.add(answer.manifest_root)
        # Every worker proved against one root, the one the chain holds for the miner.
        [root] = roots
        held = chain.commitments()[miner_key.ss58_address]
        assert held.data == manifest_commitment(miner_key.ss58_address, root)
    finally:
        stop_process(server)
