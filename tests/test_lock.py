"""The lock (requirements.txt, requirements-dev.txt, environment.yml) is in step with pyproject.toml: every
dependency pinned to a version its range allows, nothing pinned directly that pyproject no longer asks for,
every pin hashed, and the three files agree. Fix a failure with ``bash scripts/lock.sh``."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^ ;\\]+)\s*(?:;(?P<marker>[^\\]*))?")


@dataclass
class Lock:
    pins: dict[str, str] = field(default_factory=dict)
    hashed: set[str] = field(default_factory=set)
    #: the packages the lock says it holds because pyproject.toml asks for them
    direct: set[str] = field(default_factory=set)


def read_lock(path: Path) -> Lock:
    lock = Lock()
    current = ""
    for line in path.read_text().splitlines():
        if m := PIN.match(line):
            current = canonicalize_name(m["name"])
            lock.pins[current] = m["version"]
        elif current and "--hash=sha256:" in line:
            lock.hashed.add(current)
        elif current and re.search(r"#\s+(via\s+)?genloom \(pyproject\.toml\)", line):
            lock.direct.add(current)
    return lock


def requirements(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + (project["optional-dependencies"][extra] if extra else [])
    return [Requirement(spec) for spec in wanted]


@pytest.mark.parametrize(("lock_file", "extra"), [("requirements.txt", None), ("requirements-dev.txt", "dev")])
def test_the_lock_pins_every_dependency_of_pyproject(lock_file: str, extra: str | None) -> None:
    lock = read_lock(ROOT / lock_file)
    wanted = requirements(extra)
    missing = [str(r) for r in wanted if canonicalize_name(r.name) not in lock.pins]
    assert not missing, f"{lock_file} lacks {missing}: run bash scripts/lock.sh"
    outside = [f"{r} (locked {lock.pins[canonicalize_name(r.name)]})" for r in wanted
               if not r.specifier.contains(Version(lock.pins[canonicalize_name(r.name)]), prereleases=True)]
    assert not outside, f"{lock_file} pins versions pyproject.toml no longer allows: {outside}"
    names = {canonicalize_name(r.name) for r in wanted}
    assert lock.direct == names, (f"{lock_file} was locked for other dependencies "
                                  f"(added {sorted(names - lock.direct)}, removed {sorted(lock.direct - names)})")
    assert lock.hashed == set(lock.pins), f"unhashed pins in {lock_file}: {sorted(set(lock.pins) - lock.hashed)}"


def test_the_runtime_lock_agrees_with_the_dev_lock() -> None:
    runtime, dev = read_lock(ROOT / "requirements.txt"), read_lock(ROOT / "requirements-dev.txt")
    differ = {n: (v, dev.pins.get(n)) for n, v in runtime.pins.items() if dev.pins.get(n) != v}
    assert not differ, f"requirements.txt and requirements-dev.txt disagree: {differ}"


def test_environment_yml_holds_the_dev_lock() -> None:
    text = (ROOT / "environment.yml").read_text()
    pins = dict(re.findall(r"^\s+- ([A-Za-z0-9._-]+)==(\S+)$", text, flags=re.M))
    assert {canonicalize_name(n): v for n, v in pins.items()} == read_lock(ROOT / "requirements-dev.txt").pins
    assert re.search(r"^\s+- python=3\.11$", text, flags=re.M)
    assert re.search(r"^\s+- -e \.$", text, flags=re.M)


def test_a_stale_lock_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a lock missing a dependency, or pinning one outside its range."""
    text = (ROOT / "requirements.txt").read_text()
    stale = tmp_path / "requirements.txt"
    stale.write_text(re.sub(r"^fastapi==\S+", "fastapi==0.1.0", text, flags=re.M))
    lock = read_lock(stale)
    [fastapi] = [r for r in requirements() if r.name == "fastapi"]
    assert not fastapi.specifier.contains(Version(lock.pins["fastapi"]))
    stale.write_text(re.sub(r"^alembic==.*?(?=^\S)", "", text, flags=re.M | re.S))
    assert "alembic" not in read_lock(stale).pins and "alembic" in read_lock(ROOT / "requirements.txt").direct
