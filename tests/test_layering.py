"""Imports run down the layers: every import between the project's rooms is one ``ALLOWED`` names.

The layering (ARCHITECTURE.md), bottom to top: ``common`` (generic helpers) < ``protocol``
(wire, auth, chain, Redis) < the pure code ``scoring`` and ``tasks`` < ``safety`` < the
validator's rooms (model < eval sets < store, pull < stages < round < service) and the miner
< the local network < entry points (``neurons``) and benchmarks (``bench``). The miner and the
validator never import each other: a production miner reaches no validator code.

Every import statement counts, at module level or inside a function (a lazy import is still a
dependency), ``if TYPE_CHECKING`` blocks included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES: tuple[str, ...] = ("common", "protocol", "scoring", "tasks", "safety", "validator")
PACKAGES += ("miner", "localnet", "neurons", "bench")

_BASE = {"common", "protocol"}
_PURE = _BASE | {"scoring", "tasks"}
_VALIDATOR_LOW = _PURE | {"safety", "validator.model", "validator.evalsets"}
_BELOW_STAGES = _VALIDATOR_LOW | {"validator.store", "validator.pull", "validator.executor"}
_BELOW_STAGES |= {"validator.manifests", "validator.eval_commitment"}
_VALIDATOR = _BELOW_STAGES | {
    "validator.stages",
    "validator.weights_policy",
    "validator.config",
    "validator.round",
    "validator.reports",
    "validator.attribution",
    "validator.api",
}

# room -> the rooms it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "common": set(),
    "protocol": {"common"},
    "scoring": _BASE,
    "tasks": _BASE,
    "safety": _PURE,
    "validator.model": _PURE,
    "validator.evalsets": _PURE | {"safety", "validator.model"},
    "validator.store": _PURE,
    "validator.executor": _PURE | {"validator.model"},
    "validator.pull": _BASE,
    "validator.manifests": _BASE | {"validator.pull"},
    "validator.eval_commitment": _BASE | {"validator.store"},
    "validator.weights_policy": set(),
    "validator.config": _BASE | {"validator.evalsets"},
    "validator.stages": _BELOW_STAGES,
    "validator.attribution": _PURE | {"validator.model"},
    "validator.reports": _PURE | {"validator.store"},
    "validator.api": _BASE | {"validator.store", "validator.model", "validator.attribution"},
    "validator.round": _BELOW_STAGES | {"validator.stages", "validator.weights_policy"},
    "validator.service": _VALIDATOR,
    "validator.audit": _VALIDATOR,
    "miner": _PURE,
    # The local network runs the audit command and reads its output (its section marker).
    "localnet": _VALIDATOR | {"validator.service", "validator.audit", "miner"},
    "neurons": _VALIDATOR | {"validator.service", "miner", "localnet"},
    "bench": _VALIDATOR | {"validator.service", "miner", "localnet"},
}
# The validator's rooms: a sub-package, or one module at the package's top.
_VALIDATOR_ROOMS = sorted((r for r in ALLOWED if r.startswith("validator.")), key=len)[::-1]


def room(module: str) -> str | None:
    """The room ``module`` belongs to; None for third-party and standard-library modules."""
    top = module.split(".")[0]
    if top not in PACKAGES:
        return None
    if top != "validator":
        return top
    for candidate in _VALIDATOR_ROOMS:
        if module == candidate or module.startswith(candidate + "."):
            return candidate
    return "validator"  # the package itself, or a module no room claims (fails below)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for each absolute import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def module_name(path: Path) -> str:
    """``validator/stages/cot.py`` -> ``validator.stages.cot``."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def test_every_module_belongs_to_a_room() -> None:
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            mod = module_name(path)
            if mod == "validator":
                continue
            assert room(mod) in ALLOWED, f"{mod} belongs to no room in tests/test_layering.py"


def test_imports_run_down_the_layers() -> None:
    upward: list[str] = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            source = room(module_name(path))
            assert source is not None
            for line, target in imports(path):
                target_room = room(target)
                if target_room is None or target_room == source:
                    continue
                if target_room not in ALLOWED.get(source, set()):
                    rel = path.relative_to(ROOT)
                    upward.append(f"{rel}:{line} imports {target} ({source} -> {target_room})")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_the_layering_has_no_cycle() -> None:
    """ALLOWED itself is a DAG: no room may reach itself through what it may import."""
    for start in ALLOWED:
        seen: set[str] = set()
        frontier = set(ALLOWED[start])
        while frontier:
            current = frontier.pop()
            assert current != start, f"{start} may reach itself through {sorted(seen)}"
            if current not in seen:
                seen.add(current)
                frontier |= ALLOWED.get(current, set())


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    """The check itself: a miner importing the validator is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("from validator.evalsets.cot import draw_eval_set\n")
    (line, target), *_ = imports(bad)
    assert room(target) == "validator.evalsets"
    assert room(target) not in ALLOWED["miner"]
    assert room("validator.stages.cot") == "validator.stages"
    assert room("validator.round") == "validator.round"
    assert room("numpy.linalg") is None
