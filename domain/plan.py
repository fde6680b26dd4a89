"""Plans (kế hoạch) as data: the timeline, deadlines, criteria, rules and approval chain.

A province or district writes a plan for a programme year; since 1 Jul 2025 districts no longer
exist, so nothing here is hard-coded: a plan file (YAML or JSON) is validated into ``Plan``
and a case carries the plan it started with. A plan file names its criteria set (bộ tiêu chí)
and classification rule set by id; the catalogue (``catalog``) embeds their content in
``criteria`` and ``rules``, so a running case keeps exactly the sets it started with even if
the files change later. An inconsistent plan (phases overlapping or out
of order, a deadline outside the plan's period, a level with no role, ...) is refused with a
message that names what is wrong.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal

import rfc8785
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from domain.classification import RuleSet
from domain.criteria import CriteriaSet
from domain.errors import InputError
from domain.roles import ROLE_SCOPE, Role

# Viet Nam has kept UTC+7 without daylight saving since 1975, so a fixed table is exact and
# keeps the domain free of tz database file reads (it runs inside the workflow sandbox).
UTC_OFFSETS: dict[str, timedelta] = {
    "Asia/Ho_Chi_Minh": timedelta(hours=7),
    "Asia/Saigon": timedelta(hours=7),
    "UTC": timedelta(0),
}

DeadlineKind = Literal[
    "district_list",  # UBND huyện báo cáo danh sách xã có ma túy (001 §III.2)
    "selection",  # Công an tỉnh phê duyệt địa bàn chuyển hóa (001 §III.2)
    "implementation_plan",  # kế hoạch thực hiện gửi Công an tỉnh (001 §V.1)
    "phase_report",  # báo cáo kết thúc giai đoạn (001 §V.1)
    "forum",  # Diễn đàn "Công an lắng nghe ý kiến Nhân dân", 1 lần/quý (001 §IV.2)
    "dossier",  # hồ sơ đề nghị công nhận (001 §III.4)
]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Phase(_Strict):
    """Giai đoạn: a phase of the plan with inclusive start and end dates."""

    number: int = Field(ge=1)
    name_vi: str
    name_en: str
    starts_on: date
    ends_on: date


class Deadline(_Strict):
    """Thời hạn: something ``role`` must submit by the end of ``due`` (inclusive, local time).

    "Trước ngày 31/3" (before 31 Mar) is written as due 30 Mar; "chậm nhất ngày 26/02"
    (at the latest 26 Feb) as due 26 Feb.
    """

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: DeadlineKind
    due: date
    role: Role
    escalate_to: Role
    phase: int | None = None
    title_vi: str
    title_en: str
    source: str = ""


LevelRule = Literal["all_of", "any_of", "quorum"]

# An opaque person id, as ``domain.roles.Actor.person_id``: never a name.
PersonId = Annotated[str, Field(min_length=1, max_length=64)]


class ApprovalLevel(_Strict):
    """Cấp xét duyệt: one level of the recognition chain and the rule by which it passes.

    - ``all_of`` (default; các cơ quan cùng ký = every body signs): every role in ``roles``
      approves, in any order; one rejection returns the dossier to the commune.
    - ``any_of`` (một trong các = any one of): one approval by any listed role passes the
      level; a rejection by any listed role returns the dossier.
    - ``quorum`` (Hội đồng xét duyệt biểu quyết = the provincial review council votes):
      ``members`` are the person ids named by the council's founding decision (quyết định
      thành lập), acting in one of ``roles`` (e.g. ``[province_council]``); each votes once
      and the level passes at ``quorum`` (k) approvals, e.g. a majority, 3 of 5. It returns
      the dossier as soon as k can no longer be reached (rejections > n - k).

    ``members`` and ``quorum`` belong to quorum levels only (``plan_problems``).
    """

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    name_vi: str
    name_en: str
    roles: list[Role]
    deadline_days: int = Field(ge=1, le=120)
    escalate_to: Role
    rule: LevelRule = "all_of"
    members: list[PersonId] = []
    quorum: int | None = None


class Target(_Strict):
    """Chỉ tiêu: the share of the province's (or district's) communes to make drug-free."""

    share: float = Field(gt=0, le=1)
    scope: Literal["province", "district"] = "province"


class Plan(_Strict):
    """A programme plan: everything a case needs to run its year."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title_vi: str
    title_en: str
    source: str
    structure: Literal["legacy", "current"]
    province_code: str = Field(pattern=r"^\d{2}$")
    district_code: str | None = Field(default=None, pattern=r"^\d{3}$")
    starts_on: date
    ends_on: date
    timezone: str = "Asia/Ho_Chi_Minh"
    criteria_set: str
    classification_rules: str
    # The content of the two sets named above, pinned (None until the catalogue resolves them).
    criteria: CriteriaSet | None = None
    rules: RuleSet | None = None
    reminder_days_before: list[int] = [7, 1]
    target: Target
    phases: list[Phase]
    deadlines: list[Deadline]
    approval_chain: list[ApprovalLevel]

    @model_validator(mode="after")
    def _consistent(self) -> Plan:
        problems = plan_problems(self)
        if problems:
            # The list travels in the error's context so a validator can report each one.
            raise PydanticCustomError(
                "plan_problems", "{summary}", {"summary": "; ".join(problems), "problems": problems}
            )
        return self

    # -- calendar -----------------------------------------------------------------------
    def utc_offset(self) -> timedelta:
        return UTC_OFFSETS[self.timezone]

    def local_midnight(self, day: date) -> datetime:
        """The instant (UTC) at which ``day`` begins in the plan's time zone."""
        local = datetime.combine(day, time(0, 0), tzinfo=timezone(self.utc_offset()))
        return local.astimezone(UTC)

    def end_of_day(self, day: date) -> datetime:
        """The instant a deadline on ``day`` passes: local midnight after it."""
        return self.local_midnight(day + timedelta(days=1))

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(timezone(self.utc_offset())).date()

    # -- lookups ------------------------------------------------------------------------
    def deadline(self, deadline_id: str) -> Deadline:
        for d in self.deadlines:
            if d.id == deadline_id:
                return d
        raise InputError("plan.unknown_deadline", f"plan {self.id} has no deadline {deadline_id!r}",
                         f"kế hoạch {self.id} không có mốc thời hạn {deadline_id!r}")

    def deadlines_of(self, kind: DeadlineKind) -> list[Deadline]:
        return [d for d in self.deadlines if d.kind == kind]

    def level(self, level_id: str) -> ApprovalLevel:
        for lv in self.approval_chain:
            if lv.id == level_id:
                return lv
        raise InputError("plan.unknown_level", f"plan {self.id} has no approval level {level_id!r}",
                         f"kế hoạch {self.id} không có bước xét duyệt {level_id!r}")

    @property
    def has_districts(self) -> bool:
        return self.structure == "legacy"


def plan_problems(plan: Plan) -> list[str]:
    """Every inconsistency of a plan, each naming its field; empty when the plan is sound."""
    problems: list[str] = []
    if plan.timezone not in UTC_OFFSETS:
        problems.append(f"timezone: unsupported {plan.timezone!r} (known: {sorted(UTC_OFFSETS)})")
    if plan.ends_on <= plan.starts_on:
        problems.append("ends_on: must be after starts_on")
    # Embedded sets must be the ones the plan names (whether the ids exist is the catalogue's
    # business: the domain keeps no registry of sets).
    if plan.criteria is not None and plan.criteria.id != plan.criteria_set:
        problems.append(f"criteria.id: embedded criteria set {plan.criteria.id!r} is not "
                        f"the plan's criteria_set {plan.criteria_set!r}")
    if plan.rules is not None and plan.rules.id != plan.classification_rules:
        problems.append(f"rules.id: embedded rule set {plan.rules.id!r} is not "
                        f"the plan's classification_rules {plan.classification_rules!r}")
    if plan.structure == "current" and plan.district_code is not None:
        problems.append("district_code: a current-structure (2025) plan has no districts")
    if plan.target.scope == "district" and (
        plan.structure == "current" or plan.district_code is None
    ):
        problems.append("target.scope: a district target needs a legacy plan with a district_code")
    if any(d <= 0 for d in plan.reminder_days_before):
        problems.append("reminder_days_before: offsets must be positive days")
    if len(set(plan.reminder_days_before)) != len(plan.reminder_days_before):
        problems.append("reminder_days_before: duplicate offsets")

    if not plan.phases:
        problems.append("phases: a plan needs at least one phase")
    for i, ph in enumerate(plan.phases):
        where = f"phases[{i}] (phase {ph.number})"
        if ph.number != i + 1:
            problems.append(f"{where}: phases must be numbered 1..n in order")
        if ph.ends_on < ph.starts_on:
            problems.append(f"{where}: ends_on {ph.ends_on} is before starts_on {ph.starts_on}")
        if ph.starts_on < plan.starts_on or ph.ends_on > plan.ends_on:
            problems.append(f"{where}: outside the plan period {plan.starts_on}..{plan.ends_on}")
        if i > 0 and ph.starts_on <= plan.phases[i - 1].ends_on:
            problems.append(f"{where}: overlaps or precedes phase {plan.phases[i - 1].number}")

    seen: set[str] = set()
    phase_numbers = {ph.number for ph in plan.phases}
    for d in plan.deadlines:
        where = f"deadlines.{d.id}"
        if d.id in seen:
            problems.append(f"{where}: duplicate deadline id")
        seen.add(d.id)
        if not plan.starts_on <= d.due <= plan.ends_on:
            problems.append(f"{where}: due {d.due} is outside the plan period "
                            f"{plan.starts_on}..{plan.ends_on}")
        if d.kind == "phase_report" and d.phase not in phase_numbers:
            problems.append(f"{where}: phase_report must name an existing phase")
        if d.kind == "forum" and d.phase not in phase_numbers:
            problems.append(f"{where}: forum must name an existing phase")
        problems.extend(_role_problems(plan, where, [d.role, d.escalate_to]))
    for kind in ("selection", "dossier"):
        if len([d for d in plan.deadlines if d.kind == kind]) != 1:
            problems.append(f"deadlines: exactly one {kind!r} deadline is required")
    for ph in plan.phases:
        if not [d for d in plan.deadlines if d.kind == "phase_report" and d.phase == ph.number]:
            problems.append(f"deadlines: phase {ph.number} has no end-of-phase report")

    if not plan.approval_chain:
        problems.append("approval_chain: at least one level is required")
    level_ids: set[str] = set()
    for i, lv in enumerate(plan.approval_chain):
        where = f"approval_chain[{i}] ({lv.id})"
        if lv.id in level_ids:
            problems.append(f"{where}: duplicate level id")
        level_ids.add(lv.id)
        if not lv.roles:
            problems.append(f"{where}: a level needs at least one role")
        if len(set(lv.roles)) != len(lv.roles):
            problems.append(f"{where}: a role is listed twice")
        if "auditor" in lv.roles or "commune_ubnd" in lv.roles:
            problems.append(f"{where}: auditors and the commune itself do not sign a level")
        problems.extend(_rule_problems(where, lv))
        problems.extend(_role_problems(plan, where, [*lv.roles, lv.escalate_to]))
    return problems


def _rule_problems(where: str, lv: ApprovalLevel) -> list[str]:
    """A quorum level names its council and k; the other rules carry neither."""
    problems: list[str] = []
    if lv.rule != "quorum":
        if lv.members:
            problems.append(f"{where}: members: only a quorum level names members "
                            f"(rule is {lv.rule})")
        if lv.quorum is not None:
            problems.append(f"{where}: quorum: only a quorum level has a quorum "
                            f"(rule is {lv.rule})")
        return problems
    if not lv.members:
        problems.append(f"{where}: members: a quorum level names its council's members")
    if len(set(lv.members)) != len(lv.members):
        twice = sorted({m for m in lv.members if lv.members.count(m) > 1})
        problems.append(f"{where}: members: listed twice: {', '.join(twice)}")
    if lv.quorum is None:
        problems.append(f"{where}: quorum: a quorum level needs k, the approvals that pass it")
    elif not 1 <= lv.quorum <= len(lv.members):
        problems.append(f"{where}: quorum: {lv.quorum} is not between 1 and the "
                        f"{len(lv.members)} members")
    return problems


def _role_problems(plan: Plan, where: str, roles: list[Role]) -> list[str]:
    if plan.structure == "current":
        bad = [r for r in roles if ROLE_SCOPE[r] == "district"]
        if bad:
            return [f"{where}: district roles {bad} do not exist in a current-structure plan"]
    return []


def parse_plan(data: Any) -> Plan:
    """Validate a plan document (a dict from YAML or JSON); bad plans raise ``InputError``."""
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = first["msg"].removeprefix("Value error, ")
        # a model-level problem (from plan_problems) has no location: "plan: <problems>"
        where = f"plan {loc}" if loc else "plan"
        raise InputError("plan.invalid", f"{where}: {msg}") from None


def plan_hash(plan: Plan) -> str:
    """A plan's content hash (mã băm nội dung): SHA-256 of its canonical JSON (RFC 8785), with
    whatever sets it embeds. Two plans with the same hash are the same version."""
    return hashlib.sha256(plan_document(plan)).hexdigest()


def plan_document(plan: Plan) -> bytes:
    """The plan as canonical JSON (RFC 8785): what a published version stores and hashes."""
    return rfc8785.dumps(plan.model_dump(mode="json"))
