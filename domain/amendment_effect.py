"""What an amendment does to one running case (hiệu lực của văn bản sửa đổi đối với hồ sơ).

Pure, and the same for the dry run and the real run: the dry run (``case_effect``) reads the
case from its folded events (``domain.replay``), the workflows from their own state; both go
through the functions below, so what ``drugfree plans amend --dry-run`` prints is what the
``case.amended`` event records.

The rules:
- signatures already given stay valid and are listed (``signatures_kept``: the round's);
- a pending level that the amendment removes or replaces is *transferred* to the level that
  inherits it: never dropped. Roles that signed the old level and also sign the new one count
  as signed there, unless that alone would pass the new level (a level is decided by its own
  signers: a transfer never approves anything); delegations of the old level lapse;
- a dossier that was returned resubmits into the amended chain (its first level);
- outstanding deadlines due on or after the effective date take their new dates, roles and
  escalation targets (one due before passed under the old rules);
- a legacy commune takes its 2025 commune and province codes (a split commune: the mapping's
  default, every candidate listed), and the case's scope follows: after the reform no
  district stands between the commune and the province.
Only the plan's issuer (the provincial People's Committee, of the old or the new province)
applies an amendment to a case (``require_amender``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

from pydantic import BaseModel, ConfigDict

from domain.agenda import CASE_DEADLINE_KINDS
from domain.amendment import Amendment, inheritance
from domain.approval import ChainState, awaiting
from domain.case import CaseError, CaseState
from domain.errors import InputError
from domain.events import CaseAmended
from domain.plan import Plan, plan_hash
from domain.replay import CaseAt
from domain.roles import ROLE_NAMES_VI, Actor, CaseScope
from domain.units import NewUnit, UnitConversion

AMENDER_ROLES = ("province_ubnd",)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SignatureKept(_Strict):
    level: str
    role: str
    person: str


class PendingChange(_Strict):
    """The chain of a case whose dossier is pending (or returned) when the amendment applies."""

    round: int
    level_before: str | None  # None: returned to the commune (no level pending)
    level_after: str | None
    transferred: bool  # the pending level was removed or replaced: its sign-off moved
    awaiting_before: list[str]  # who must sign next
    awaiting_after: list[str]
    signed_after: list[str] = []  # roles (council: members) counted as signed after
    signatures_kept: list[SignatureKept] = []  # every signature of the round, still valid
    # a returned dossier resubmits into the amended chain: its first level, before -> after
    resubmit_first_before: str | None = None
    resubmit_first_after: str | None = None


class DeadlineEffect(_Strict):
    deadline: str
    due_before: date
    due_after: date
    role_before: str
    role_after: str
    escalate_before: str
    escalate_after: str


class LevelEscalation(_Strict):
    level: str
    before: str
    after: str


class CodeChange(_Strict):
    commune_before: str | None
    district_before: str | None
    province_before: str | None
    commune_after: str
    commune_name_after: str
    province_after: str
    split: bool = False
    candidates: list[NewUnit] = []


class CaseEffect(_Strict):
    """What applying the amendment would change for one case; ``changes`` is False when
    nothing would (a closed case, one already amended by it, or one it does not touch)."""

    case_id: str
    amendment: str
    effective_on: date
    status: str
    phase: int | None
    closed: bool
    changes: bool
    pending: PendingChange | None = None
    deadlines: list[DeadlineEffect] = []
    escalations: list[LevelEscalation] = []
    codes: CodeChange | None = None
    notes: list[str] = []


# -- who may apply it ---------------------------------------------------------------------------

def require_amender(actor: Actor, plan: Plan, amended: Plan) -> None:
    """The provincial People's Committee of the plan's province, or of the province it became."""
    if actor.role not in AMENDER_ROLES:
        raise CaseError("amendment.wrong_role",
                        f"role {actor.role} may not apply an amendment (only province_ubnd)",
                        f"{ROLE_NAMES_VI[actor.role]} không được áp dụng văn bản sửa đổi "
                        f"(chỉ {ROLE_NAMES_VI['province_ubnd']})")
    provinces = sorted({plan.province_code, amended.province_code})
    if actor.province_code not in provinces:
        raise CaseError("amendment.wrong_jurisdiction",
                        f"actor's province {actor.province_code} is not the plan's "
                        f"({' or '.join(provinces)})",
                        f"kế hoạch không thuộc địa bàn quản lý của bạn: bạn thuộc tỉnh "
                        f"{actor.province_code}, kế hoạch thuộc tỉnh {' / '.join(provinces)}")


# -- the chain ----------------------------------------------------------------------------------

def chain_transfer(
    plan: Plan, amended: Plan, amendment: Amendment, chain: ChainState,
    round_signed: Sequence[SignatureKept],
) -> tuple[ChainState, PendingChange | None]:
    """The chain state under the amended plan, and what changed (None: nothing pending or
    returned). ``round_signed``: the signatures (and approving votes) of the current round."""
    if chain.status not in ("pending", "returned"):
        return chain, None
    kept = list(round_signed)
    if chain.status == "returned":
        return chain, PendingChange(
            round=chain.round, level_before=None, level_after=None, transferred=False,
            awaiting_before=[], awaiting_after=[], signatures_kept=kept,
            resubmit_first_before=plan.approval_chain[0].id,
            resubmit_first_after=amended.approval_chain[0].id)
    assert chain.level_index is not None
    old = plan.approval_chain[chain.level_index]
    after = inheritance(plan, amendment).get(old.id, old.id)
    transferred = after != old.id or any(p.level == old.id
                                         for p in amendment.changes.levels.replace)
    ids = [lv.id for lv in amended.approval_chain]
    new_level = amended.approval_chain[ids.index(after)]
    moved = ChainState(status="pending", round=chain.round, level_index=ids.index(after),
                       last_rejection=chain.last_rejection)
    if new_level.rule == "quorum":
        approvals = [m for m in chain.approvals if m in new_level.members]
        objections = {m: r for m, r in chain.objections.items() if m in new_level.members}
        if len(approvals) >= (new_level.quorum or 0):  # would pass by transfer alone
            approvals = []
        moved = moved.model_copy(update={"approvals": approvals, "objections": objections})
        signed = approvals
    else:
        signatures = {r: p for r, p in chain.signatures.items() if r in new_level.roles}
        if signatures and (new_level.rule == "any_of"
                           or set(signatures) == set(new_level.roles)):
            signatures = {}  # would pass by transfer alone
        update: dict[str, object] = {"signatures": signatures}
        if not transferred:  # same level: its delegations stand for the roles it still has
            update |= {"delegations": {r: p for r, p in chain.delegations.items()
                                       if r in new_level.roles},
                       "delegated_by": {r: p for r, p in chain.delegated_by.items()
                                        if r in new_level.roles}}
        moved = moved.model_copy(update=update)
        signed = list(signatures)
    return moved, PendingChange(
        round=chain.round, level_before=old.id, level_after=after, transferred=transferred,
        awaiting_before=awaiting(plan.approval_chain, chain),
        awaiting_after=awaiting(amended.approval_chain, moved),
        signed_after=sorted(signed), signatures_kept=kept)


def escalations(plan: Plan, amended: Plan, chain_status: str,
                level_after: str | None) -> list[LevelEscalation]:
    """Escalation targets of the levels still ahead of the case in the amended chain."""
    if chain_status in ("recognised", "closed"):
        return []
    ids = [lv.id for lv in amended.approval_chain]
    start = ids.index(level_after) if level_after in ids else 0
    old = {lv.id: lv.escalate_to for lv in plan.approval_chain}
    return [LevelEscalation(level=lv.id, before=old[lv.id], after=lv.escalate_to)
            for lv in amended.approval_chain[start:]
            if lv.id in old and old[lv.id] != lv.escalate_to]


# -- deadlines and codes ------------------------------------------------------------------------

def outstanding(plan: Plan, state: CaseState) -> set[str]:
    """A case's submissions still awaited (neither submitted nor missed)."""
    return {d.id for d in plan.deadlines if d.kind in CASE_DEADLINE_KINDS
            and d.id not in state.submitted and d.id not in state.missed}


def deadline_effects(plan: Plan, amended: Plan, amendment: Amendment,
                     waiting: Collection[str]) -> list[DeadlineEffect]:
    """The outstanding deadlines (``waiting``) due on or after the effective date that change
    (one due before passed under the old rules: its escalation, if any, was the old plan's)."""
    effects = []
    for d in plan.deadlines:
        if d.id not in waiting or d.due < amendment.effective_on:
            continue
        n = amended.deadline(d.id)
        if (n.due, n.role, n.escalate_to) != (d.due, d.role, d.escalate_to):
            effects.append(DeadlineEffect(
                deadline=d.id, due_before=d.due, due_after=n.due, role_before=d.role,
                role_after=n.role, escalate_before=d.escalate_to, escalate_after=n.escalate_to))
    return effects


def code_change(plan: Plan, amended: Plan, scope: CaseScope,
                units: Mapping[str, UnitConversion] | None) -> CodeChange | None:
    """The case's codes before -> after when the amendment switches the structure."""
    if plan.structure == amended.structure:
        return None
    conversion = (units or {}).get(scope.commune_code)
    if conversion is None:
        raise InputError("amendment.unknown_code",
                         f"no 2025 unit for the case's commune {scope.commune_code}",
                         f"không quy đổi được xã {scope.commune_code} của hồ sơ")
    return CodeChange(
        commune_before=scope.commune_code, district_before=scope.district_code,
        province_before=scope.province_code, commune_after=conversion.commune_code,
        commune_name_after=conversion.commune_name, province_after=conversion.province_code,
        split=conversion.split, candidates=list(conversion.candidates))


def amended_scope(scope: CaseScope, codes: CodeChange | None) -> CaseScope:
    """Where the case stands after: its 2025 commune and province, no district."""
    if codes is None:
        return scope
    return CaseScope(province_code=codes.province_after, district_code=None,
                     commune_code=codes.commune_after)


# -- the record ---------------------------------------------------------------------------------

def amended_event(plan: Plan, amended: Plan, amendment: Amendment, actor: Actor,
                  deadlines: list[DeadlineEffect], codes: CodeChange | None,
                  chain_status: str = "draft", pending: PendingChange | None = None) -> CaseAmended:
    """The ``case.amended`` event: self-describing (see ``domain.events.CaseAmended``)."""
    return CaseAmended(
        amendment=amendment.id, title_vi=amendment.title_vi,
        effective_on=amendment.effective_on,
        sources=[" ".join(x for x in (s.document, s.section) if x) for s in amendment.sources],
        decided_by=actor.person_id, role=actor.role,
        plan_before=plan_hash(plan), plan_after=plan_hash(amended),
        structure_before=plan.structure, structure_after=amended.structure,
        roles={c.from_: c.to for c in amendment.changes.roles},
        chain_before=[lv.id for lv in plan.approval_chain],
        chain_after=[{"id": lv.id, "name_vi": lv.name_vi, "name_en": lv.name_en,
                      "roles": list(lv.roles), "rule": lv.rule,
                      "deadline_days": lv.deadline_days, "members": list(lv.members)}
                     for lv in amended.approval_chain],
        pending=pending.model_dump(mode="json") if pending else None,
        deadlines=[d.model_dump(mode="json") for d in deadlines],
        escalations=[e.model_dump(mode="json") for e in escalations(
            plan, amended, chain_status, pending.level_after if pending else None)],
        codes=codes.model_dump(mode="json") if codes else None,
        merged=(None if amendment.changes.merged_communes is None else {
            "recognition": amendment.changes.merged_communes.recognition,
            "target": amendment.changes.merged_communes.target}))


# -- the dry run, from a case's folded events ---------------------------------------------------

def chain_of(plan: Plan, case: CaseAt) -> tuple[ChainState, list[SignatureKept]]:
    """The chain state and the round's signatures as a case's events tell them."""
    kept = ([SignatureKept(level=lv, role=s.role, person=s.person)
             for lv, sigs in case.rounds[-1].signed.items() for s in sigs]
            if case.rounds else [])
    if case.chain == "returned":
        last = case.rejections[-1].reason if case.rejections else None
        return ChainState(status="returned", round=case.round, last_rejection=last), kept
    ids = [lv.id for lv in plan.approval_chain]
    if case.chain != "pending" or case.pending_level not in ids:
        return ChainState(status=case.chain, round=case.round), kept
    level = plan.approval_chain[ids.index(case.pending_level)]
    signed = case.rounds[-1].signed.get(level.id, []) if case.rounds else []
    state = ChainState(status="pending", round=case.round, level_index=ids.index(level.id))
    if level.rule == "quorum":
        return state.model_copy(update={"approvals": [s.person for s in signed]}), kept
    return state.model_copy(update={"signatures": {s.role: s.person for s in signed}}), kept


def case_effect(plan: Plan, amended: Plan, amendment: Amendment, case_id: str, case: CaseAt,
                units: Mapping[str, UnitConversion] | None = None) -> CaseEffect:
    """What ``amendment`` (``amended`` is ``amend(plan, amendment, units)``) would change for
    one case of ``plan`` whose events fold into ``case``. Changes nothing."""
    closed = case.status == "closed"
    base: dict[str, object] = {"case_id": case_id, "amendment": amendment.id,
                               "effective_on": amendment.effective_on, "status": case.status,
                               "phase": case.phase, "closed": closed}
    if closed:
        return CaseEffect(**base, changes=False,
                          notes=["hồ sơ đã đóng: không thay đổi / case closed: unchanged"])
    if amendment.id in case.amended_by:
        return CaseEffect(**base, changes=False,
                          notes=["đã áp dụng văn bản này: không thay đổi / "
                                 "already amended by it: unchanged"])
    chain, kept = chain_of(plan, case)
    _, pending = chain_transfer(plan, amended, amendment, chain, kept)
    waiting = {row.id for row in case.deadlines if row.state == "pending"}
    deadlines = deadline_effects(plan, amended, amendment, waiting)
    ahead = escalations(plan, amended, case.chain, pending.level_after if pending else None)
    codes = None
    if case.commune_code is not None:
        codes = code_change(plan, amended, CaseScope(
            province_code=case.province_code or plan.province_code,
            district_code=case.district_code, commune_code=case.commune_code), units)
    changed = bool(
        (pending and (pending.level_before != pending.level_after or pending.transferred
                      or pending.awaiting_before != pending.awaiting_after
                      or pending.resubmit_first_before != pending.resubmit_first_after))
        or deadlines or ahead or codes)
    return CaseEffect(**base, changes=changed, pending=pending,
                      deadlines=deadlines, escalations=ahead, codes=codes)
