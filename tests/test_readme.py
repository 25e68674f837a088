"""The README's Python example runs as printed (it is the public API's documentation)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_scoring_example_runs_and_prices_right_data(capsys) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    example = next(b for b in blocks if "validate_and_score" in b)
    exec(compile(example, "README.md", "exec"), {})  # noqa: S102 - the repo's own README
    price_line = capsys.readouterr().out.splitlines()[0]
    price = float(price_line.split()[0])
    assert price > 0, price_line  # right data in the registry's phrasing earns
