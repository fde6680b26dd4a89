"""The catalogue of shipped plans: YAML files in ``domain/plans/`` validated into ``Plan``.

Reading files is a side effect, so it lives here, not in ``domain/``. A case receives the whole
validated plan as workflow input, which pins the plan version the case started with.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from domain.errors import InputError
from domain.plan import Plan, parse_plan

DEFAULT_PLAN = "tra-vinh-2025"


def _plan_dir() -> Path:
    return Path(str(resources.files("domain") / "plans"))


@cache
def plan_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in _plan_dir().glob("*.yaml")))


def load_plan_file(path: Path) -> Plan:
    """Load and validate a plan from a YAML or JSON file (JSON is valid YAML)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError("plan.unreadable", f"cannot read plan {path.name}: {exc}") from None
    return parse_plan(data)


@cache
def get_plan(plan_id: str) -> Plan:
    """A shipped plan by id; an unknown id is an input error listing the known ones."""
    if plan_id not in plan_ids():
        raise InputError(
            "plan.unknown", f"unknown plan {plan_id!r} (known: {', '.join(plan_ids())})"
        )
    plan = load_plan_file(_plan_dir() / f"{plan_id}.yaml")
    if plan.id != plan_id:
        raise InputError("plan.invalid", f"plan file {plan_id}.yaml declares id {plan.id!r}")
    return plan
