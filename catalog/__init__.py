"""The catalogue (danh mục): plans, criteria sets and classification rule sets, read from files.

Shipped files live in ``domain/plans/``, ``domain/criteria_sets/`` and ``domain/rule_sets/``
(package data). A province adds its own without writing Python: it lists directories in the
environment variable ``DRUGFREE_CATALOG`` (separated by ``os.pathsep``), each with optional
``plans/``, ``criteria_sets/`` and ``rule_sets/`` folders of ``<id>.yaml`` files (``.yml`` and
``.json`` too). A file's id must equal its file name; the same id in two places is an error
naming both files; an unknown id is an ``InputError`` listing the known ones.

Plans name their sets by id; ``get_plan`` and ``load_plan_file`` return the plan with both
sets embedded (``Plan.criteria``, ``Plan.rules``), so a case started with it carries exactly
those sets for its whole life. ``resolve`` embeds them into a plan that lacks them (an input
recorded before plans carried their sets). Reading files is I/O, so this is not in
``domain/``; everything read is validated once and cached, and ``warm()`` loads it all up
front so a worker never reads a file inside a workflow.

Amendments (``amendments/``) and reporting plans (``reporting_plans/``: who reports what and
when, ``domain.reporting``) are catalogue files of the same kind, by id.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from catalog.bundle import FileReport, Problem, validate_bundle
from catalog.store import ENV_VAR, SUFFIXES, Catalog, Kind, read_document, validate_model
from domain.amendment import Amendment
from domain.classification import RuleSet
from domain.criteria import CriteriaSet
from domain.plan import Plan
from domain.reporting import ReportingPlan

__all__ = [
    "DEFAULT_CRITERIA_SET",
    "DEFAULT_PLAN",
    "DEFAULT_RULE_SET",
    "amendment_ids",
    "get_amendment",
    "load_amendment_file",
    "ENV_VAR",
    "Catalog",
    "FileReport",
    "Kind",
    "Problem",
    "SUFFIXES",
    "catalog",
    "criteria_set_ids",
    "get_criteria_set",
    "get_plan",
    "get_rule_set",
    "load_criteria_set_file",
    "load_plan_file",
    "load_rule_set_file",
    "plan_ids",
    "load_reporting_plan_file",
    "read_document",
    "reporting_plan",
    "reporting_plan_ids",
    "resolve",
    "rule_set_ids",
    "validate_files",
    "warm",
]

DEFAULT_PLAN = "tra-vinh-2025"
DEFAULT_RULE_SET = "tra-vinh-2025"  # the rule set of the default plan
DEFAULT_CRITERIA_SET = "tra-vinh-2025"


@functools.cache
def _catalog_for(search_path: str) -> Catalog:
    return Catalog.from_env(search_path)


def catalog() -> Catalog:
    """The catalogue of the current ``DRUGFREE_CATALOG`` (one per value, cached)."""
    return _catalog_for(os.environ.get(ENV_VAR, ""))


def plan_ids() -> tuple[str, ...]:
    return catalog().ids("plan")


def get_plan(plan_id: str) -> Plan:
    """A plan by id, with its criteria and rule sets embedded."""
    return catalog().plan(plan_id)


def criteria_set_ids() -> tuple[str, ...]:
    return catalog().ids("criteria")


def get_criteria_set(set_id: str) -> CriteriaSet:
    return catalog().criteria_set(set_id)


def rule_set_ids() -> tuple[str, ...]:
    return catalog().ids("rules")


def get_rule_set(set_id: str) -> RuleSet:
    return catalog().rule_set(set_id)


def resolve(plan: Plan) -> Plan:
    """``plan`` with the sets it names embedded from the catalogue where it lacks them.

    Free for a plan that carries both (every plan the catalogue hands out); otherwise two
    cached lookups. An unknown id is an ``InputError`` naming the field.
    """
    return catalog().resolve(plan)


def warm() -> None:
    """Load and check every plan and set of the catalogue now (call it when a worker starts)."""
    catalog().warm()


def load_plan_file(path: Path) -> Plan:
    """A plan from any YAML or JSON file, with its sets embedded from the catalogue."""
    plan = validate_model(Plan, read_document(path), path, "plan.invalid")
    return catalog().resolve(plan, where=str(path))


def load_criteria_set_file(path: Path) -> CriteriaSet:
    """A criteria set from any YAML or JSON file (not added to the catalogue)."""
    return validate_model(CriteriaSet, read_document(path), path, "criteria.invalid")


def load_rule_set_file(path: Path) -> RuleSet:
    """A classification rule set from any YAML or JSON file (not added to the catalogue)."""
    return validate_model(RuleSet, read_document(path), path, "rules.invalid")


def validate_files(paths: list[Path]) -> list[FileReport]:
    """Check a bundle of plan / criteria / rule set files against each other and the
    catalogue; every problem of every file is reported (``drugfree plans validate``)."""
    return validate_bundle(paths, catalog())


def amendment_ids() -> tuple[str, ...]:
    return catalog().ids("amendment")


def get_amendment(amendment_id: str) -> Amendment:
    """An amendment of the catalogue (``amendments/<id>.yaml``) by id."""
    return catalog().amendment(amendment_id)


def load_amendment_file(path: Path) -> Amendment:
    """An amendment from any YAML or JSON file, validated (not added to the catalogue)."""
    return validate_model(Amendment, read_document(path), path, "amendment.invalid")


def reporting_plan_ids() -> tuple[str, ...]:
    return catalog().ids("reporting")


def reporting_plan(plan_id: str) -> ReportingPlan:
    """A reporting plan of the catalogue (``reporting_plans/<id>.yaml``) by id, checked and
    cached (an unknown id is an ``InputError`` listing the known ones)."""
    return catalog().reporting_plan(plan_id)


def load_reporting_plan_file(path: Path) -> ReportingPlan:
    """A reporting plan from any YAML or JSON file, validated (not added to the catalogue);
    ``validate_files`` gives its problems by field."""
    return validate_model(ReportingPlan, read_document(path), path, "reporting.invalid")
