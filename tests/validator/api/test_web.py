"""The web page in a real headless browser (Debian's chromium), against a running API."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import redis

from protocol.keys import Keys
from tests.support.rounds import make_round
from tests.support.servers import serve_in_thread
from validator.api.app import create_app
from validator.store.leaderboard import LeaderboardStore

# A cold chromium start plus the page's few fetches takes 1-3 s on 2 cores.
BROWSER_TIMEOUT_S = 60
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=5000",
]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("chromium is not installed: apt-get update && apt-get install -y chromium")
    return found


def run_browser(args: list[str], tmp: Path) -> str:
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=BROWSER_TIMEOUT_S,
        env={**os.environ, "HOME": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class TableRows(HTMLParser):
    """Cells of the rows of ``#leaderboard tbody``, by class."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str]] = []
        self.in_body = False
        self.cell: str | None = None
        self.ready = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body" and a.get("data-ready") == "1":
            self.ready = True
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append(
                {"data-uid": a.get("data-uid") or "", "data-rank": a.get("data-rank") or ""}
            )
        elif tag == "td" and self.in_body:
            self.cell = (a.get("class") or "").split()[0]
            self.rows[-1][self.cell] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self.in_body = False
        elif tag == "td":
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell:
            self.rows[-1][self.cell] += data


@pytest.fixture
def address(redis_client: redis.Redis, keys: Keys) -> Iterator[str]:
    store = LeaderboardStore(redis_client, keys)
    uids = [0, 1, 2, 3, 4, 5, 6, 7]
    for n in range(1, 7):
        store.apply_round(make_round(n, uids[: 2 + n]))  # miners join over time
    with serve_in_thread(create_app(store)) as addr:
        yield addr


def test_page_renders_the_leaderboard(address: str, tmp_path: Path) -> None:
    chromium()
    url = f"http://{address}/"
    expected = httpx.get(f"http://{address}/v1/competitions/cot_sft/leaderboard?limit=200").json()
    dom = run_browser(["--dump-dom", url], tmp_path)
    parser = TableRows()
    parser.feed(dom)
    assert parser.ready, dom[-3000:]
    assert "error:" not in dom
    assert len(parser.rows) == expected["total"] == len(expected["rows"]) == 8
    for got, want in zip(parser.rows, expected["rows"], strict=True):
        assert got["data-uid"] == got["uid"] == str(want["uid"])
        assert got["rank"] == str(want["rank"])
        assert got["hotkey"] == want["hotkey"]
        assert got["ema"] == f"{want['ema']:.4f}"
        assert got["weight"] == f"{want['weight']:.4f}"
    assert dom.count('data-series="uid ') == 2 * 8  # one history line and one loss line per miner
    assert "latest round r00006" in dom

    shot = tmp_path / "leaderboard.png"
    run_browser([f"--screenshot={shot}", "--window-size=1280,900", url], tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("DATACOMP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
