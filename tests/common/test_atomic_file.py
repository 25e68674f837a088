"""``write_text_atomic``: readers see the old content or the new, never a torn file.

Failures midway are real ones: text the codec refuses, a target that is a directory, and a
writer process whose file-size limit (``RLIMIT_FSIZE``) stops it after part of the new content
is on disk, either with an error it can clean up after or killed outright by ``SIGXFSZ``.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from common.atomic_file import write_text_atomic

ROOT = Path(__file__).resolve().parents[2]
OLD = "old content, which must survive whole\n"

# A writer that may put only LIMIT bytes into any file: its first write lands LIMIT bytes of
# the new text in the temp file, the next one fails (EFBIG) or, with SIGXFSZ at its default
# action, kills the process where it stands (no core file: RLIMIT_CORE 0).
LIMIT = 4096
_WRITER = """
import resource, signal, sys
from pathlib import Path
from common.atomic_file import write_text_atomic

if sys.argv[2] == "crash":
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # CPython ignores it by default
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
try:
    write_text_atomic(Path(sys.argv[1]), "n" * 100_000)
except OSError as exc:
    print(f"{{type(exc).__name__}} {{exc.errno}}")
    sys.exit(3)
"""


def _write_limited(path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    """Run the size-limited writer on ``path`` to its end (it never outlives the call)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", _WRITER.format(limit=LIMIT), str(path), mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _temp_files(directory: Path, target: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p != target)


def test_writes_the_text_as_utf8_and_creates_missing_folders(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "eval_set.json"
    text = '{"name": "Ünïcödé ✓ 数学"}\nsecond line\n'
    write_text_atomic(path, text)
    assert path.read_bytes() == text.encode("utf-8")
    assert _temp_files(path.parent, path) == []


def test_a_shorter_text_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(OLD * 50)
    write_text_atomic(path, "short")
    assert path.read_text() == "short"  # no tail of the old content
    assert _temp_files(tmp_path, path) == []


def test_a_reader_holding_the_old_file_keeps_reading_the_old_file(tmp_path: Path) -> None:
    """The new content arrives by rename: a file already open is never written into."""
    path = tmp_path / "f.txt"
    path.write_text(OLD)
    with path.open() as reader:
        first = reader.read(5)
        write_text_atomic(path, "new")
        assert first + reader.read() == OLD
    assert path.read_text() == "new"


def test_text_the_codec_refuses_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text(OLD)
    with pytest.raises(UnicodeEncodeError, match="surrogates not allowed"):
        write_text_atomic(path, "fine so far \ud800 and then not")
    assert path.read_text() == OLD
    assert _temp_files(tmp_path, path) == []


def test_a_directory_in_the_way_is_an_error_and_no_temp_is_left(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.mkdir()
    (path / "inside").write_text("kept")
    with pytest.raises(IsADirectoryError):
        write_text_atomic(path, "new")
    assert (path / "inside").read_text() == "kept"
    assert _temp_files(tmp_path, path) == []


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text(OLD)
    done = _write_limited(path, "error")
    assert done.returncode == 3, done.stderr
    assert done.stdout.split() == ["OSError", str(errno.EFBIG)]  # EFBIG: the limit hit mid-write
    assert path.read_text() == OLD
    assert _temp_files(tmp_path, path) == []


def test_a_writer_killed_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """No cleanup runs in a killed process: its temp file stays, hidden, and holds the torn
    write; the target itself is the old content, byte for byte."""
    path = tmp_path / "f.txt"
    path.write_text(OLD)
    done = _write_limited(path, "crash")
    assert done.returncode == -signal.SIGXFSZ, (done.returncode, done.stderr)
    assert path.read_text() == OLD
    [torn] = _temp_files(tmp_path, path)
    assert torn.name.startswith(".f.txt.") and torn.name.endswith(".tmp")
    assert torn.read_text() == "n" * LIMIT  # it did die midway through the new text


def test_a_new_file_gets_the_umask_mode_and_a_rewrite_keeps_the_old_one(tmp_path: Path) -> None:
    # mkstemp makes 0600: a published eval_set.json must stay readable by the API's user.
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.json"
        write_text_atomic(new, "{}")
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        new.chmod(0o640)
        write_text_atomic(new, '{"a": 1}')
        assert stat.S_IMODE(new.stat().st_mode) == 0o640
    finally:
        os.umask(old)
