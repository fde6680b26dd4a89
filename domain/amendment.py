"""Amendments (văn bản sửa đổi kế hoạch) as plan data: when the law changes mid-year.

An amendment file names the plan(s) it amends, its legal sources, the day it takes effect and
what changes; every change cites its source (a seed file and section, or the law or decree).
``amend(plan, amendment, units)`` is the amended plan, validated as any plan is (after the
2025 reform no district role may remain). Pure: the catalogue reads the file,
``catalog.units_2025`` supplies the legacy -> 2025 unit conversions.

What an amendment may change (``changes``):

- ``levels``: approval levels ``remove``d (each names the level that ``inherited_by`` a pending
  sign-off), ``add``ed (after a named level, or first), ``replace``d by a new level (which
  inherits), or ``edit``ed (roles removed / added, deadline days, escalation target);
- ``roles``: a role reassigned to its successor (``from`` -> ``to``) as the role that must
  submit at a deadline and as an escalation target (of deadlines and of levels);
- ``deadlines``: a deadline moved (``due``) or extended (``extend_days``);
- ``structure``: legacy -> current; the plan's province follows from the conversion of its
  communes (``province_code`` in the file is checked against it, never used alone);
- ``merged_communes``: how a 2025 commune made of several legacy communes is recognised, and
  what the plan's target counts.

Refusals name the thing refused, in Vietnamese and English, with stable codes:
``amendment.other_plan``, ``amendment.outside_plan`` (effective date outside the plan),
``amendment.unknown_level``, ``amendment.unknown_role``, ``amendment.unknown_deadline``,
``amendment.unknown_code``, ``amendment.province_mismatch``, ``amendment.empty_level``,
``amendment.inherit_backwards``, ``amendment.deadline_passed``, ``amendment.units_required``,
``amendment.invalid_plan`` (the amended plan fails the plan's own checks, each listed).

What it does to one running case is ``domain.amendment_effect``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.admin_units import registry
from domain.errors import InputError
from domain.plan import ApprovalLevel, Deadline, Plan
from domain.roles import ROLE_NAMES_VI, ROLES, Role
from domain.units import UnitConversion

Source = Annotated[str, Field(min_length=3, max_length=300)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LegalSource(_Strict):
    """A document the amendment rests on: a law, decree or seed file, and its section."""

    document: Source  # e.g. "Law 72/2025/QH15", "001_bb5719cd39510399.txt"
    section: str = ""  # e.g. "§III.4"
    note: str = ""


class RemoveLevel(_Strict):
    level: str
    inherited_by: str  # the level of the amended chain that takes over a pending sign-off
    source: Source


class AddLevel(_Strict):
    after: str | None  # a level id of the chain being built; None: first
    level: ApprovalLevel
    source: Source


class ReplaceLevel(_Strict):
    level: str
    by: ApprovalLevel  # inherits the replaced level's pending sign-off
    source: Source


class EditLevel(_Strict):
    level: str
    remove_roles: list[str] = []
    add_roles: list[str] = []
    deadline_days: int | None = Field(default=None, ge=1, le=120)
    source: Source


class LevelChanges(_Strict):
    remove: list[RemoveLevel] = []
    add: list[AddLevel] = []
    replace: list[ReplaceLevel] = []
    edit: list[EditLevel] = []


class RoleChange(_Strict):
    """``from_`` is succeeded by ``to`` wherever a deadline names who submits, and wherever a
    deadline or level names whom to escalate to."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    source: Source


class DeadlineChange(_Strict):
    deadline: str
    due: date | None = None  # moved to this day
    extend_days: int | None = Field(default=None, ge=1, le=366)  # or extended by n days
    source: Source

    @model_validator(mode="after")
    def _one(self) -> DeadlineChange:
        if (self.due is None) == (self.extend_days is None):
            raise ValueError("a deadline change gives exactly one of due, extend_days")
        return self


class StructureChange(_Strict):
    to: Literal["current"]
    province_code: str | None = Field(default=None, pattern=r"^[0-9]{2}$")  # checked
    source: Source


class MergedCommunes(_Strict):
    """How a 2025 commune made of several legacy communes (its constituent areas, each with
    its own case) counts: ``recognition`` of the new commune follows from its areas' outcomes
    (``all_constituents``: recognised only when every constituent area is; ``any_constituent``:
    when at least one is), and the plan's ``target`` share counts ``new_communes`` (the 2025
    communes of the plan's former territory) or still ``legacy_areas``."""

    recognition: Literal["all_constituents", "any_constituent"] = "all_constituents"
    target: Literal["new_communes", "legacy_areas"] = "new_communes"
    source: Source


class Changes(_Strict):
    levels: LevelChanges = LevelChanges()
    roles: list[RoleChange] = []
    deadlines: list[DeadlineChange] = []
    structure: StructureChange | None = None
    merged_communes: MergedCommunes | None = None  # with ``structure`` only


class Amendment(_Strict):
    """An amendment file (``domain/amendments/<id>.yaml``)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title_vi: str
    title_en: str
    amends: list[str] = Field(min_length=1)  # plan ids
    effective_on: date
    sources: list[LegalSource] = Field(min_length=1)
    changes: Changes

    @model_validator(mode="after")
    def _merged_with_structure(self) -> Amendment:
        if self.changes.merged_communes is not None and self.changes.structure is None:
            raise ValueError("changes.merged_communes needs changes.structure (communes merge "
                             "only when the units change)")
        return self


def _err(code: str, en: str, vi: str) -> InputError:
    return InputError(code, en, vi)


# -- the amended plan --------------------------------------------------------------------------

def check_applies(plan: Plan, amendment: Amendment) -> None:
    """The amendment is for this plan, and takes effect inside its period."""
    if plan.id not in amendment.amends:
        raise _err("amendment.other_plan",
                   f"amendment {amendment.id} amends {', '.join(amendment.amends)}, "
                   f"not plan {plan.id}",
                   f"văn bản sửa đổi {amendment.id} sửa kế hoạch {', '.join(amendment.amends)}, "
                   f"không phải kế hoạch {plan.id}")
    if not plan.starts_on <= amendment.effective_on <= plan.ends_on:
        raise _err("amendment.outside_plan",
                   f"amendment {amendment.id}: effective_on {amendment.effective_on} is outside "
                   f"plan {plan.id}'s period {plan.starts_on}..{plan.ends_on}",
                   f"văn bản sửa đổi {amendment.id}: ngày hiệu lực {amendment.effective_on} "
                   f"nằm ngoài thời gian kế hoạch {plan.id} ({plan.starts_on}..{plan.ends_on})")


def _role(amendment: Amendment, name: str, where: str) -> Role:
    for r in ROLES:
        if r == name:
            return r
    raise _err("amendment.unknown_role",
               f"amendment {amendment.id}: {where}: unknown role {name!r} "
               f"(known: {', '.join(ROLES)})",
               f"văn bản sửa đổi {amendment.id}: {where}: không có vai trò {name!r} "
               f"(hiện có: {', '.join(ROLES)})")


def _unknown_level(amendment: Amendment, level: str, where: str, chain: list[str]) -> InputError:
    listed = ", ".join(chain) or "-"
    return _err("amendment.unknown_level",
                f"amendment {amendment.id}: {where}: unknown approval level {level!r} "
                f"(the chain has: {listed})",
                f"văn bản sửa đổi {amendment.id}: {where}: không có bước xét duyệt {level!r} "
                f"(quy trình có: {listed})")


def inheritance(plan: Plan, amendment: Amendment) -> dict[str, str]:
    """Each level of ``plan`` that the amendment removes or replaces -> the level inheriting
    its pending sign-off (a level kept maps to itself)."""
    kept = {lv.id: lv.id for lv in plan.approval_chain}
    for r in amendment.changes.levels.remove:
        kept[r.level] = r.inherited_by
    for p in amendment.changes.levels.replace:
        kept[p.level] = p.by.id
    return kept


def _amend_chain(plan: Plan, amendment: Amendment,
                 role_map: dict[Role, Role]) -> list[ApprovalLevel]:
    changes = amendment.changes.levels
    chain = list(plan.approval_chain)
    original = [lv.id for lv in chain]

    def index(level: str, where: str) -> int:
        for i, lv in enumerate(chain):
            if lv.id == level:
                return i
        raise _unknown_level(amendment, level, where, [lv.id for lv in chain])

    for i, p in enumerate(changes.replace):
        chain[index(p.level, f"changes.levels.replace[{i}]")] = p.by
    for i, e in enumerate(changes.edit):
        where = f"changes.levels.edit[{i}]"
        at = index(e.level, where)
        lv = chain[at]
        drop = {_role(amendment, r, f"{where}.remove_roles") for r in e.remove_roles}
        for gone in drop:
            if gone not in lv.roles:
                raise _err("amendment.unknown_role",
                           f"amendment {amendment.id}: {where}: level {lv.id} has no role {gone!r}",
                           f"văn bản sửa đổi {amendment.id}: {where}: bước {lv.id} "
                           f"không có vai trò {gone!r}")
        add = [_role(amendment, r, f"{where}.add_roles") for r in e.add_roles]
        roles = [r for r in lv.roles if r not in drop] + [r for r in add if r not in lv.roles]
        update: dict[str, object] = {"roles": roles}
        if e.deadline_days is not None:
            update["deadline_days"] = e.deadline_days
        chain[at] = lv.model_copy(update=update)
    removed: list[RemoveLevel] = []
    for i, rm in enumerate(changes.remove):
        del chain[index(rm.level, f"changes.levels.remove[{i}]")]
        removed.append(rm)
    for i, a in enumerate(changes.add):
        where = f"changes.levels.add[{i}]"
        at = 0 if a.after is None else index(a.after, f"{where}.after") + 1
        chain.insert(at, a.level)
    ids = [lv.id for lv in chain]
    for i, rm in enumerate(removed):
        where = f"changes.levels.remove[{i}]"
        if rm.inherited_by not in ids:
            raise _unknown_level(amendment, rm.inherited_by, f"{where}.inherited_by", ids)
        # The inheriting level may not come before a level that stood before the removed one:
        # a pending sign-off moves forward (or stays in place), never back over a passed level.
        before = [x for x in original[:original.index(rm.level)] if x in ids]
        if before and ids.index(rm.inherited_by) <= max(ids.index(x) for x in before):
            raise _err("amendment.inherit_backwards",
                       f"amendment {amendment.id}: {where}: {rm.inherited_by!r} comes before "
                       f"levels that preceded {rm.level!r}; a pending sign-off cannot move back",
                       f"văn bản sửa đổi {amendment.id}: {where}: bước {rm.inherited_by!r} đứng "
                       f"trước các bước trước {rm.level!r}; không chuyển việc ký ngược lại")
    for lv in chain:
        for role in lv.roles:
            _role(amendment, role, f"level {lv.id}")
        if not lv.roles:
            raise _err("amendment.empty_level",
                       f"amendment {amendment.id}: approval level {lv.id!r} would be left "
                       f"with no role to sign it",
                       f"văn bản sửa đổi {amendment.id}: bước xét duyệt {lv.id!r} "
                       f"sẽ không còn ai ký")
    return [lv.model_copy(update={"escalate_to": role_map.get(lv.escalate_to, lv.escalate_to)})
            for lv in chain]


def _role_map(plan: Plan, amendment: Amendment) -> dict[Role, Role]:
    used: set[Role] = set()
    for d in plan.deadlines:
        used.update((d.role, d.escalate_to))
    for lv in plan.approval_chain:
        used.update((*lv.roles, lv.escalate_to))
    mapping: dict[Role, Role] = {}
    for i, c in enumerate(amendment.changes.roles):
        where = f"changes.roles[{i}]"
        old = _role(amendment, c.from_, f"{where}.from")
        new = _role(amendment, c.to, f"{where}.to")
        if old not in used:
            raise _err("amendment.unknown_role",
                       f"amendment {amendment.id}: {where}.from: plan {plan.id} has no role "
                       f"{old!r} to reassign",
                       f"văn bản sửa đổi {amendment.id}: {where}.from: kế hoạch {plan.id} "
                       f"không có vai trò {old!r} ({ROLE_NAMES_VI[old]}) để giao lại")
        mapping[old] = new
    return mapping


def _amend_deadlines(plan: Plan, amendment: Amendment,
                     role_map: dict[Role, Role]) -> list[Deadline]:
    by_id = {d.id: d for d in plan.deadlines}
    moved: dict[str, date] = {}
    for i, c in enumerate(amendment.changes.deadlines):
        where = f"changes.deadlines[{i}]"
        d = by_id.get(c.deadline)
        if d is None:
            listed = ", ".join(by_id)
            raise _err("amendment.unknown_deadline",
                       f"amendment {amendment.id}: {where}: plan {plan.id} has no deadline "
                       f"{c.deadline!r} (known: {listed})",
                       f"văn bản sửa đổi {amendment.id}: {where}: kế hoạch {plan.id} không có "
                       f"mốc thời hạn {c.deadline!r} (hiện có: {listed})")
        if d.due < amendment.effective_on:
            raise _err("amendment.deadline_passed",
                       f"amendment {amendment.id}: {where}: deadline {d.id} was due {d.due}, "
                       f"before the amendment takes effect ({amendment.effective_on})",
                       f"văn bản sửa đổi {amendment.id}: {where}: hạn {d.id} ({d.due}) đã qua "
                       f"trước ngày hiệu lực {amendment.effective_on}")
        moved[d.id] = c.due if c.due is not None else d.due + timedelta(days=c.extend_days or 0)
    return [d.model_copy(update={
        "due": moved.get(d.id, d.due),
        "role": role_map.get(d.role, d.role),
        "escalate_to": role_map.get(d.escalate_to, d.escalate_to),
    }) for d in plan.deadlines]


def new_province(plan: Plan, amendment: Amendment,
                 units: Mapping[str, UnitConversion] | None) -> str:
    """The 2025 province of a legacy plan: the one every commune of its territory went into,
    by the conversion tables (the amendment's ``province_code`` must agree)."""
    change = amendment.changes.structure
    assert change is not None
    if units is None:
        raise _err("amendment.units_required",
                   f"amendment {amendment.id}: switching plan {plan.id} to the 2025 units "
                   f"needs the legacy -> 2025 conversion of its communes",
                   f"văn bản sửa đổi {amendment.id}: chuyển kế hoạch {plan.id} sang đơn vị "
                   f"hành chính mới cần bảng quy đổi các xã")
    legacy = registry("legacy")
    territory = (legacy.communes_of_district(plan.district_code) if plan.district_code
                 else legacy.communes_of_province(plan.province_code))
    missing = [c.code for c in territory if c.code not in units]
    if missing:
        raise _err("amendment.unknown_code",
                   f"amendment {amendment.id}: no 2025 unit for commune(s) "
                   f"{', '.join(missing[:10])} of plan {plan.id}",
                   f"văn bản sửa đổi {amendment.id}: không quy đổi được xã "
                   f"{', '.join(missing[:10])} của kế hoạch {plan.id}")
    found = sorted({units[c.code].province_code for c in territory})
    if len(found) != 1:
        raise _err("amendment.province_mismatch",
                   f"amendment {amendment.id}: plan {plan.id}'s communes went into "
                   f"{len(found)} provinces ({', '.join(found)}), not one",
                   f"văn bản sửa đổi {amendment.id}: các xã của kế hoạch {plan.id} thuộc "
                   f"{len(found)} tỉnh mới ({', '.join(found)})")
    if change.province_code is not None:
        if change.province_code not in registry("current").provinces:
            raise _err("amendment.unknown_code",
                       f"amendment {amendment.id}: changes.structure.province_code: "
                       f"{change.province_code!r} is not a 2025 province code",
                       f"văn bản sửa đổi {amendment.id}: changes.structure.province_code: "
                       f"{change.province_code!r} không phải mã tỉnh mới")
        if change.province_code != found[0]:
            raise _err("amendment.province_mismatch",
                       f"amendment {amendment.id}: changes.structure.province_code: "
                       f"{change.province_code} but the conversion tables put plan {plan.id}'s "
                       f"communes in {found[0]}",
                       f"văn bản sửa đổi {amendment.id}: changes.structure.province_code: "
                       f"{change.province_code} nhưng theo bảng quy đổi các xã của kế hoạch "
                       f"{plan.id} thuộc tỉnh {found[0]}")
    return found[0]


def amend(plan: Plan, amendment: Amendment,
          units: Mapping[str, UnitConversion] | None = None) -> Plan:
    """The plan as the amendment makes it; refused (``InputError``) with the thing named.

    ``units``: the legacy -> 2025 conversion of (at least) the plan's communes, needed when
    the amendment switches the structure."""
    check_applies(plan, amendment)
    role_map = _role_map(plan, amendment)
    chain = _amend_chain(plan, amendment, role_map)
    deadlines = _amend_deadlines(plan, amendment, role_map)
    doc = plan.model_dump()
    doc.update(approval_chain=[lv.model_dump() for lv in chain],
               deadlines=[d.model_dump() for d in deadlines],
               source=f"{plan.source}; sửa đổi / amended by {amendment.id} "
                      f"(from {amendment.effective_on})")
    if amendment.changes.structure is not None and plan.structure == "legacy":
        doc.update(structure="current", district_code=None,
                   province_code=new_province(plan, amendment, units))
    try:
        return Plan.model_validate(doc)
    except ValidationError as exc:
        problems: list[str] = []
        for err in exc.errors():
            listed = (err.get("ctx") or {}).get("problems")
            problems.extend(str(p) for p in listed) if isinstance(listed, list) else (
                problems.append(str(err["msg"])))
        text = "; ".join(problems)
        raise _err("amendment.invalid_plan",
                   f"amendment {amendment.id}: the amended plan {plan.id} is not valid: {text}",
                   f"văn bản sửa đổi {amendment.id}: kế hoạch {plan.id} sau sửa đổi không hợp "
                   f"lệ: {text}") from None
