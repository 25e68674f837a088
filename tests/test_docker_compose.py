"""docker-compose.yml and its Dockerfile, checked without a Docker engine.

Every command a service runs must name a script that exists or a module that imports; every
DATACOMP_<ROLE>_* variable must be a field of that role's settings class (pydantic-settings
silently ignores a misspelt one); production requirements (AOF, GPU, health checks) hold.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APP_SERVICES = [name for name, svc in SERVICES.items() if "build" in svc]


def argv(command: str | list[str]) -> list[str]:
    return command.split() if isinstance(command, str) else list(command)


def named_targets(args: list[str]) -> list[tuple[str, str]]:
    """('script', path) and ('module', name) that a python command line runs."""
    if not args or args[0] not in ("python", "python3"):
        return []
    if args[1] == "-m":
        return [("module", args[2])]
    if args[1] == "-c":
        return []
    return [("script", args[1])]


def settings_class(prefix: str) -> type[BaseSettings]:
    if prefix == "DATACOMP_VALIDATOR_":
        from validator.config import ValidatorSettings

        return ValidatorSettings
    if prefix == "DATACOMP_MINER_":
        from miner.config import MinerSettings

        return MinerSettings
    if prefix == "DATACOMP_API_":
        from validator.api.server import ApiSettings

        return ApiSettings
    raise AssertionError(f"no settings class for {prefix}")


@pytest.mark.parametrize("service", APP_SERVICES)
def test_commands_name_what_exists(service: str) -> None:
    targets = named_targets(argv(SERVICES[service]["command"]))
    assert targets, f"{service}: command runs no python script or module"
    for kind, name in targets:
        if kind == "script":
            assert (ROOT / name).is_file(), f"{service}: {name} does not exist"
        else:
            assert importlib.util.find_spec(name) is not None, f"{service}: module {name} not found"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_environment_names_real_settings(service: str) -> None:
    env = SERVICES[service].get("environment", {})
    for name in env:
        match = re.match(r"(DATACOMP_[A-Z]+_)(.+)", name)
        assert match, f"{service}: {name} is not a DATACOMP_<ROLE>_* setting"
        fields = settings_class(match.group(1)).model_fields
        assert match.group(2).lower() in fields, f"{service}: {name} names no settings field"


def test_production_shape() -> None:
    assert {"redis", "validator", "miner", "api"} <= set(SERVICES)
    redis_cmd = argv(SERVICES["redis"]["command"])
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    assert redis_cmd[redis_cmd.index("--appendfsync") + 1] == "everysec"
    assert any(v.endswith(":/data") for v in SERVICES["redis"]["volumes"])
    devices = SERVICES["validator"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    for name in ("redis", "validator", "miner", "api"):
        assert "healthcheck" in SERVICES[name], f"{name} has no health check"
    for name in ("validator", "miner", "api"):
        depends = SERVICES[name]["depends_on"]
        assert depends["redis"]["condition"] == "service_healthy"
    declared = set(COMPOSE["volumes"])
    for svc in SERVICES.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith(("$", ".", "/", "~")):
                assert source in declared, f"volume {source} is not declared"


def test_dockerfile_copies_every_package_and_the_python_it_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for svc in APP_SERVICES:
        assert SERVICES[svc]["build"]["dockerfile"] == "Dockerfile"
    copied = set(re.findall(r"^COPY\s+(\S+)/\s", dockerfile, flags=re.M))
    # Tests and benchmarks stay out of the image.
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= copied, f"not copied into the image: {sorted(packages - copied)}"
    for svc in APP_SERVICES:
        for kind, name in named_targets(argv(SERVICES[svc]["command"])):
            top = name.split("/")[0] if kind == "script" else name.split(".")[0]
            assert top in copied, f"{svc}: {name} is not in the image"
    for line in re.findall(r"^COPY\s+(.+)$", dockerfile, flags=re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_api_reads_the_validators_runs_read_only() -> None:
    # GET /v1/rounds/{id}/eval_set serves what the validator published: the API must see the
    # validator's run directory, at the path the validator writes it, and never write to it.
    api, validator = SERVICES["api"], SERVICES["validator"]
    runs = api["environment"]["DATACOMP_API_RUNS_DIR"]
    assert runs == validator["environment"]["DATACOMP_VALIDATOR_RUN_DIR"]
    validator_mount = next(v for v in validator["volumes"] if v.startswith("validator-data:"))
    data_dir = validator_mount.split(":")[1]
    assert f"validator-data:{data_dir}:ro" in api["volumes"]
    assert runs.startswith(data_dir + "/")


def test_api_attributes_with_the_validators_model() -> None:
    # docs/OPERATIONS.md: give the API the validator's --model, so attribution is about the
    # model that scores miners.
    api, validator = SERVICES["api"], SERVICES["validator"]
    model = validator["environment"]["DATACOMP_VALIDATOR_MODEL"]
    assert api["environment"]["DATACOMP_API_ATTRIBUTION_MODEL"] == model


def test_image_owns_every_mounted_data_dir() -> None:
    # A mount point missing from the image is created root-owned, and a new named volume takes
    # its owner: the services run as datacomp and must be able to write there.
    dockerfile = (ROOT / "Dockerfile").read_text()
    made = set(re.findall(r"mkdir -p ((?:/data\S*\s*)+)", dockerfile)[0].split())
    assert re.search(r"chown -R datacomp\S* /data\b", dockerfile)
    for name in APP_SERVICES:
        for volume in SERVICES[name].get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith(("$", ".", "/", "~")) or target == "/data":
                continue  # bind mounts are the host's; /data itself is made and owned above
            assert target in made, f"{name}: {target} is not made in the Dockerfile"
