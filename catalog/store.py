"""Where plans, criteria sets and rule sets are found, read and cached (the catalogue's I/O)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from domain.amendment import Amendment
from domain.classification import RuleSet
from domain.criteria import CriteriaSet
from domain.documents import (
    MAX_CATALOG_BYTES,
    Syntax,
    parse_document,
    syntax_for,
    validation_problems,
)
from domain.errors import InputError
from domain.plan import Plan
from domain.reporting import ReportingPlan

Kind = Literal["plan", "criteria", "rules", "amendment", "reporting"]

ENV_VAR = "DRUGFREE_CATALOG"
FOLDERS: dict[Kind, str] = {"plan": "plans", "criteria": "criteria_sets", "rules": "rule_sets",
                            "amendment": "amendments", "reporting": "reporting_plans"}
SUFFIXES = (".yaml", ".yml", ".json")

# What each kind is called in messages (English, Vietnamese) and its error-code prefix.
NOUNS: dict[Kind, tuple[str, str]] = {
    "plan": ("plan", "kế hoạch"),
    "criteria": ("criteria set", "bộ tiêu chí"),
    "rules": ("classification rule set", "bộ quy tắc phân loại"),
    "amendment": ("amendment", "văn bản sửa đổi"),
    "reporting": ("reporting plan", "kế hoạch báo cáo"),
}
CODES: dict[Kind, str] = {"plan": "plan", "criteria": "criteria", "rules": "rules",
                          "amendment": "amendment", "reporting": "reporting"}

M = TypeVar("M", bound=BaseModel)


def shipped_root() -> Path:
    """The folder holding the shipped ``plans/``, ``criteria_sets/`` and ``rule_sets/``."""
    return Path(str(resources.files("domain")))


def read_document(
    path: Path, *, max_bytes: int = MAX_CATALOG_BYTES, syntax: Syntax | None = None
) -> Any:
    """Read one JSON or YAML file through the strict reader (``domain.documents``).

    The syntax follows the suffix (``.json`` is JSON, anything else YAML) unless given. At
    most ``max_bytes + 1`` bytes are read, so a huge file costs no memory before it is refused.
    """
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputError(
            "document.unreadable",
            f"cannot read {path}: {reason}",
            f"không đọc được {path}: {reason}",
        ) from None
    return parse_document(
        data, syntax=syntax or syntax_for(path.name, "yaml"), name=str(path), max_bytes=max_bytes
    )


def validate_model(model: type[M], data: Any, path: Path | str, code: str) -> M:
    """``model`` from a parsed document; every problem named, in one line (``file: field: msg``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        listed = "; ".join(
            f"{field}: {msg}" if field else msg for field, msg in validation_problems(exc)
        )
        raise InputError(code, f"{path}: {listed}") from None


def check_file_name(kind: Kind, set_id: str, path: Path) -> None:
    """A catalogue file is named after its id (``<id>.yaml``), so ids can be found by name."""
    if set_id != path.stem:
        raise InputError(
            "catalog.id_mismatch",
            f"{path}: id: {set_id!r} does not match the file name (expected {path.stem!r})",
            f"{path}: id: {set_id!r} không khớp với tên tệp (cần {path.stem!r})",
        )


def unknown(kind: Kind, wanted: str, known: Iterable[str]) -> InputError:
    noun_en, noun_vi = NOUNS[kind]
    listed = ", ".join(sorted(known)) or "-"
    return InputError(
        f"{CODES[kind]}.unknown",
        f"unknown {noun_en} {wanted!r} (known: {listed})",
        f"không có {noun_vi} {wanted!r} (hiện có: {listed})",
    )


class Catalog:
    """The files of one search path: shipped folders first, then the province's directories.

    Each root may hold ``plans/``, ``criteria_sets/`` and ``rule_sets/`` with ``<id>.yaml``
    (``.yml``, ``.json``) files. An id found twice is an error naming both files. Everything
    loaded is validated once and kept: a loaded object never changes under a running worker.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = tuple(roots)
        self._lock = threading.RLock()
        self._indexes: dict[Kind, dict[str, Path]] = {}
        self._criteria: dict[str, CriteriaSet] = {}
        self._rules: dict[str, RuleSet] = {}
        self._plans: dict[str, Plan] = {}
        self._amendments: dict[str, Amendment] = {}
        self._reporting: dict[str, ReportingPlan] = {}

    @classmethod
    def from_env(cls, value: str) -> Catalog:
        """The shipped folders plus every directory in ``value`` (``os.pathsep``-separated)."""
        extra = [Path(part) for part in value.split(os.pathsep) if part.strip()]
        for root in extra:
            if not root.is_dir():
                raise InputError(
                    "catalog.not_a_directory",
                    f"{ENV_VAR}: {root} is not a directory",
                    f"{ENV_VAR}: {root} không phải là thư mục",
                )
        return cls([shipped_root(), *extra])

    # -- finding files ------------------------------------------------------------------
    def index(self, kind: Kind) -> dict[str, Path]:
        """Every id of ``kind`` and its file."""
        with self._lock:
            found = self._indexes.get(kind)
            if found is None:
                found = self._indexes[kind] = self._scan(kind)
            return found

    def _scan(self, kind: Kind) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for root in self.roots:
            folder = root / FOLDERS[kind]
            if not folder.is_dir():
                continue
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in SUFFIXES or path.name.startswith("."):
                    continue
                other = found.get(path.stem)
                if other is not None:
                    noun_en, noun_vi = NOUNS[kind]
                    raise InputError(
                        "catalog.duplicate",
                        f"{noun_en} {path.stem!r} is defined twice: {other} and {path}",
                        f"{noun_vi} {path.stem!r} được khai báo hai lần: {other} và {path}",
                    )
                found[path.stem] = path
        return found

    def ids(self, kind: Kind) -> tuple[str, ...]:
        return tuple(sorted(self.index(kind)))

    def path(self, kind: Kind, wanted: str) -> Path:
        index = self.index(kind)
        if wanted not in index:
            raise unknown(kind, wanted, index)
        return index[wanted]

    # -- loading ------------------------------------------------------------------------
    def criteria_set(self, set_id: str) -> CriteriaSet:
        with self._lock:
            if set_id not in self._criteria:
                path = self.path("criteria", set_id)
                loaded = validate_model(CriteriaSet, read_document(path), path, "criteria.invalid")
                check_file_name("criteria", loaded.id, path)
                self._criteria[set_id] = loaded
            return self._criteria[set_id]

    def rule_set(self, set_id: str) -> RuleSet:
        with self._lock:
            if set_id not in self._rules:
                path = self.path("rules", set_id)
                loaded = validate_model(RuleSet, read_document(path), path, "rules.invalid")
                check_file_name("rules", loaded.id, path)
                self._rules[set_id] = loaded
            return self._rules[set_id]

    def plan(self, plan_id: str) -> Plan:
        with self._lock:
            if plan_id not in self._plans:
                path = self.path("plan", plan_id)
                loaded = validate_model(Plan, read_document(path), path, "plan.invalid")
                check_file_name("plan", loaded.id, path)
                self._plans[plan_id] = self.resolve(loaded, where=str(path))
            return self._plans[plan_id]

    def amendment(self, amendment_id: str) -> Amendment:
        """An amendment file (``amendments/<id>.yaml``), validated as ``Amendment`` (whether it
        applies to its plans is ``domain.amendment.amend``'s business)."""
        with self._lock:
            if amendment_id not in self._amendments:
                path = self.path("amendment", amendment_id)
                loaded = validate_model(Amendment, read_document(path), path,
                                        "amendment.invalid")
                check_file_name("amendment", loaded.id, path)
                self._amendments[amendment_id] = loaded
            return self._amendments[amendment_id]

    def reporting_plan(self, plan_id: str) -> ReportingPlan:
        """A reporting plan (``reporting_plans/<id>.yaml``): validated as ``ReportingPlan``,
        then checked across its parts (``catalog.reporting_checks``), every problem named."""
        from catalog.reporting_checks import cross_problems

        with self._lock:
            if plan_id not in self._reporting:
                path = self.path("reporting", plan_id)
                loaded = validate_model(ReportingPlan, read_document(path), path,
                                        "reporting.invalid")
                check_file_name("reporting", loaded.id, path)
                found = cross_problems(loaded)
                if found:
                    raise InputError(
                        "reporting.invalid",
                        f"{path}: " + "; ".join(f"{f}: {en}" for f, en, _ in found),
                        f"{path}: " + "; ".join(f"{f}: {vi}" for f, _, vi in found))
                self._reporting[plan_id] = loaded
            return self._reporting[plan_id]

    def amendments_of(self, plan_id: str) -> list[Amendment]:
        """The amendments that name ``plan_id``, by effective date."""
        found = [self.amendment(a) for a in self.ids("amendment")]
        return sorted((a for a in found if plan_id in a.amends), key=lambda a: a.effective_on)

    def resolve(self, plan: Plan, *, where: str | None = None) -> Plan:
        """``plan`` with its criteria and rule sets embedded (those it lacks, from here).

        A plan that already carries both comes back as it is, at no cost.
        """
        if plan.criteria is not None and plan.rules is not None:
            return plan
        place = where or f"plan {plan.id}"
        update: dict[str, Any] = {}
        try:
            if plan.criteria is None:
                field = "criteria_set"
                update["criteria"] = self.criteria_set(plan.criteria_set)
            if plan.rules is None:
                field = "classification_rules"
                update["rules"] = self.rule_set(plan.classification_rules)
        except InputError as exc:
            raise InputError(
                exc.code, f"{place}: {field}: {exc.message}", f"{place}: {field}: {exc.text('vi')}"
            ) from None
        # The ids match by construction, so the plan's own checks still hold.
        return plan.model_copy(update=update)

    def warm(self) -> None:
        """Load and check everything now (a worker calls this at start: a bad file stops it
        there, and no workflow ever reads a file)."""
        for set_id in self.ids("criteria"):
            self.criteria_set(set_id)
        for set_id in self.ids("rules"):
            self.rule_set(set_id)
        for plan_id in self.ids("plan"):
            self.plan(plan_id)
        for plan_id in self.ids("reporting"):
            self.reporting_plan(plan_id)
