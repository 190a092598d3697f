"""The lock files (``make lock``) hold every dependency pyproject.toml names, at a version it
allows, each with its hashes: ``make install`` installs from them with ``--require-hashes``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", re.MULTILINE)


def locked(name: str) -> dict[str, str]:
    text = (REPO / name).read_text()
    pins = {canonicalize_name(m.group(1)): m.group(2) for m in PIN.finditer(text)}
    # Each pin is followed by its hashes.
    for block in re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text.split("\n\n", 1)[-1]):
        if PIN.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]
    return pins


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ["postgres"]), ("requirements-dev.lock", ["dev"])]
)
def test_every_dependency_is_locked_at_an_allowed_version(lock: str, extras: list[str]) -> None:
    pins = locked(lock)
    wanted = [*PROJECT["dependencies"]]
    for extra in extras:
        wanted += PROJECT["optional-dependencies"][extra]
    for spec in wanted:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in {lock}: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (spec, pins[name])
