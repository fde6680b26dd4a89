"""Defect 10: installs are reproducible and the whole product is type-checked strictly.

Before the fix, every fresh install took the newest release of every dependency (no lock),
`make test` type-checked only `domain/`, and `project.license` used the TOML-table form that
setuptools stops accepting in February 2027.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_is_pinned_with_hashes_in_the_lock() -> None:
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    pinned = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", lock, flags=re.M))
    pinned = {k.lower().replace("_", "-"): v for k, v in pinned.items()}
    project = PYPROJECT["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    missing = [r for r in wanted if _name(r) not in pinned]
    assert not missing, f"not in requirements.lock: {missing}"
    # every requirement line is exact and carries hashes (uv pip sync --require-hashes)
    entries = re.findall(r"^[A-Za-z0-9_.\-]+(?:\[[^\]]*\])?(\S*) \\\n((?:\s+--hash=\S+.*\n)+)",
                         lock, flags=re.M)
    assert len(entries) == len(pinned) and all(spec.startswith("==") for spec, _ in entries)


def test_installs_use_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "requirements.lock" in makefile and "--require-hashes" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_license_is_an_spdx_string() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"


def test_mypy_strict_covers_every_product_package() -> None:
    assert PYPROJECT["tool"]["mypy"].get("strict") is True
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    packages = set(re.search(r"^PACKAGES := (.+)$", makefile, flags=re.M)[1].split())  # type: ignore[index]
    product = {p.name for p in ROOT.iterdir()
               if (p / "__init__.py").exists() and p.name not in ("tests", "bench")}
    assert product <= packages, f"not type-checked: {sorted(product - packages)}"
    assert "worker.py" in packages
