"""The web page in a real headless browser (Debian's chromium), against a running API.

The table is checked in the DOM chromium dumps once the page has settled; the receipt needs a
click, so that test drives chromium over the DevTools protocol (a websocket; ``websockets``
comes with bittensor): a real mouse press and release on the row, then the dialog's DOM.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from protocol.keys import Keys
from tests.support.rounds import make_round
from tests.support.servers import serve_in_thread
from tests.validator.api.committed import committed_round
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


class DevTools:
    """One page of a running chromium, driven over the DevTools protocol."""

    def __init__(self, ws: Connection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its result (events arriving meanwhile are skipped)."""
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=BROWSER_TIMEOUT_S))
            if message.get("id") == call_id:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    def js(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        out = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in out, out["exceptionDetails"]
        return out["result"].get("value")

    def wait_for(self, expression: str) -> None:
        """Poll until ``expression`` is truthy."""
        deadline = time.monotonic() + BROWSER_TIMEOUT_S
        while not self.js(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real left click (press and release) at the centre of the element."""
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box["x"],
                y=box["y"],
                button="left",
                clickCount=1,
            )


@contextmanager
def devtools_page(url: str, tmp: Path) -> Iterator[DevTools]:
    """Chromium showing ``url``, with its DevTools endpoint; the browser is stopped after."""
    profile = tmp / "devtools-profile"
    profile.mkdir()
    flags = [f for f in FLAGS if not f.startswith("--virtual-time-budget")]  # real time here
    with (tmp / "chromium.log").open("w") as log:
        proc = subprocess.Popen(
            [chromium(), *flags, f"--user-data-dir={profile}", "--remote-debugging-port=0"]
            + ["--window-size=1280,900", url],
            stdout=log,
            stderr=log,
            env={**os.environ, "HOME": str(tmp)},
        )
    try:
        port_file = profile / "DevToolsActivePort"  # chromium writes its port here
        deadline = time.monotonic() + BROWSER_TIMEOUT_S
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            assert proc.poll() is None, (tmp / "chromium.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "chromium wrote no DevToolsActivePort"
            time.sleep(0.05)
        port = port_file.read_text().splitlines()[0]
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", trust_env=False).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, proxy=None) as ws:
            yield DevTools(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def committed_address(redis_client: redis.Redis, keys: Keys) -> Iterator[str]:
    store = LeaderboardStore(redis_client, keys)
    store.apply_round(committed_round(1, [0, 1, 2, 3]))
    store.apply_round(committed_round(2, [0, 1, 2, 3, 4]))
    with serve_in_thread(create_app(store, None)) as addr:
        yield addr


def test_clicking_a_row_opens_the_miners_receipt(committed_address: str, tmp_path: Path) -> None:
    chromium()
    receipt = httpx.get(f"http://{committed_address}/v1/miners/5Hotkey0003/receipt").json()
    with devtools_page(f"http://{committed_address}/", tmp_path) as page:
        page.wait_for("document.body?.dataset.ready === '1'")  # body: null while loading
        assert not page.js("document.getElementById('receipt').open")
        page.click('#leaderboard tbody tr[data-uid="3"]')
        page.wait_for("document.getElementById('receipt').dataset.state === 'ready'")
        assert page.js("document.getElementById('receipt').open")
        assert page.js("document.querySelector('tr.selected').dataset.uid") == "3"
        text = page.js("document.getElementById('receipt').innerText")
        cells = page.js(
            "Object.fromEntries([...document.querySelectorAll('#receipt tr')].map("
            "(tr) => [tr.querySelector('th').textContent, tr.querySelector('td').textContent]))"
        )
        audit = page.js("document.querySelector('#receipt pre > code#audit-command').textContent")
        anywhere = page.js("document.querySelector('#receipt code#audit-from-api').textContent")
        page.click("#copy-audit")  # the clipboard, or (no clipboard) the command selected
        page.wait_for("document.getElementById('copy-audit').textContent !== 'copy'")
        shot = page.call("Page.captureScreenshot", format="png")["data"]
        page.click("#receipt-close")
        assert not page.js("document.getElementById('receipt').open")
    assert "5Hotkey0003" in text and "round r00002" in text
    assert page_status(text) == "scored"
    assert "3 served samples failed their manifest proof" in text
    counts = receipt["counts"]
    for name in ("offered", "accepted", "duplicates", "contaminated", "unproven", "invalid"):
        assert cells[name] == str(counts[name]), name
    assert cells["wrong answers"] == str(counts["wrong_answers"])
    assert cells["loss delta"] == "0.15"  # 0.05 * uid
    assert cells["improvement CI"] == "[0.01, 0.09]"
    committed = receipt["commitments"]
    assert cells["manifest root"] == "03" * 32 and cells["commit block"] == "903"
    assert cells["eval commitment"] == committed["eval_commitment_chain_value"]
    assert cells["eval commitment"].startswith("dce1:")
    assert cells["eval commitment block"] == "1099"
    assert cells["commitments read at block"] == "1107"
    assert (
        audit
        == receipt["audit_command"]
        == ("python -m validator.audit runs/r00002 --miner 5Hotkey0003 --competition cot_sft")
    )
    assert anywhere == receipt["audit_from_api"] and "--signed" in anywhere
    png = base64.b64decode(shot)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    keep = os.environ.get("DATACOMP_SCREENSHOT_DIR")
    if keep:
        (Path(keep) / "receipt.png").write_bytes(png)


def page_status(text: str) -> str:
    """The status word after "status " in the receipt's round line."""
    return text.split("status ", 1)[1].split()[0]
