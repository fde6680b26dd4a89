"""The recognition approval chain (quy trình xét, công nhận) as a pure state machine.

``decide(chain, scope, state, decision) -> (new_state, events)`` over a plan's ordered levels
(001 §III.4, 003 §IV): the commune submits its dossier (hồ sơ); each level passes by its rule
(``domain.plan.ApprovalLevel``); the last level's pass is the recognition (công nhận). Any
rejection that decides a level sends the dossier back to the commune with the reasons; a
resubmission starts a new round from the first level. Nothing is accepted once closed.

Level rules:

- ``all_of``: every listed role signs (parallel sign-offs, ``level.signed``); the level passes
  when all have; one rejection returns the dossier.
- ``any_of``: the first approval by any listed role passes the level; a rejection by any
  listed role returns the dossier.
- ``quorum``: the named members of a council (Hội đồng xét duyệt = provincial review council)
  vote (biểu quyết, ``level.voted``), each once; k approvals pass the level; the dossier is
  returned, with every objection's reason, once rejections exceed n - k. A person who is not
  a member is refused (``chain.not_member``).

Delegation (ủy quyền) per rule: at ``all_of`` and ``any_of`` levels a role's pending sign-off
may be handed to another person of the same role and unit, who then acts on behalf (only they
may sign or reject for that role). A council vote is personal: the founding decision names
the members, so a ``quorum`` level refuses every delegation (``chain.not_delegable``).

Who is still awaited, and how a level stands, is answered here (``awaiting``, ``standing``)
so workflows and read models never re-derive it from the state's fields.

Every refusal raises ``ChainError`` with a stable code and changes nothing (states are frozen).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.errors import DomainError
from domain.events import (
    DossierResubmitted,
    DossierSubmitted,
    Event,
    LevelApproved,
    LevelRejected,
    RecognitionGranted,
    SignoffDelegated,
    SignoffRecorded,
    VoteCast,
)
from domain.plan import ApprovalLevel, LevelRule
from domain.roles import ROLE_NAMES_VI, Actor, CaseScope, Role, jurisdiction_problem

ChainStatus = Literal["draft", "pending", "returned", "recognised", "closed"]


class ChainError(DomainError):
    """A refused decision. Codes are stable: clients and tests match on them."""


class ChainState(BaseModel):
    """Where a dossier stands. ``signatures`` are the current level's role -> person.

    Carried across continue-as-new and stored in recorded workflow histories: existing fields
    keep their meaning; new fields come with defaults only. Read it through ``standing`` and
    ``awaiting`` rather than field by field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ChainStatus = "draft"
    round: int = 0
    level_index: int | None = None
    signatures: dict[str, str] = {}  # all_of / any_of level: role -> person who signed
    delegations: dict[str, str] = {}  # role -> person the pending sign-off was handed to
    delegated_by: dict[str, str] = {}  # role -> person who handed it over
    last_rejection: str | None = None
    approvals: list[str] = []  # quorum level: members who voted to approve, in vote order
    objections: dict[str, str] = {}  # quorum level: member -> reason of their rejecting vote


class LevelStanding(BaseModel):
    """How the pending level stands, for readers (workflow queries, reminders, read models).

    ``approvals`` and ``awaiting`` count roles at ``all_of`` / ``any_of`` levels and member
    person ids at ``quorum`` levels.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str
    rule: LevelRule
    needed: int  # approvals that pass the level: every role, 1, or k
    approvals: list[str]  # who approved this round (any_of: none, its first approval passes it)
    rejections: list[str]  # quorum: members who voted against; others: a rejection returns
    rejections_allowed: int  # rejecting votes the level absorbs and can still pass: n - k or 0
    awaiting: list[str]  # roles or members who have not acted yet, in plan order
    awaiting_roles: list[Role]  # the roles to notify or remind (a member acts in these)


class _Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    actor: Actor


class Submit(_Decision):
    """Nộp hồ sơ: the commune submits (round 1) or resubmits after a rejection."""

    kind: Literal["submit"] = "submit"


class Approve(_Decision):
    """Đồng ý: one role of the pending level signs, or a council member votes to approve."""

    kind: Literal["approve"] = "approve"
    level: str
    reason: str = Field(default="", max_length=2000)


class Reject(_Decision):
    """Không đồng ý: return the dossier to the commune; a reason is required. At a quorum
    level it is one member's vote against, which returns the dossier only once k approvals
    can no longer be reached."""

    kind: Literal["reject"] = "reject"
    level: str
    reason: str = Field(max_length=2000)


class Delegate(_Decision):
    """Ủy quyền: hand a pending sign-off to another person of the same role and jurisdiction
    (``all_of`` and ``any_of`` levels; a council member's vote cannot be delegated)."""

    kind: Literal["delegate"] = "delegate"
    level: str
    to: Actor


class Close(BaseModel):
    """The case closed (withdrawn, deadline passed, denied): no decision is accepted after."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["close"] = "close"


Decision = Annotated[Submit | Approve | Reject | Delegate | Close, Field(discriminator="kind")]


def pending_level(chain: list[ApprovalLevel], state: ChainState) -> ApprovalLevel | None:
    if state.status != "pending" or state.level_index is None:
        return None
    return chain[state.level_index]


def standing(chain: list[ApprovalLevel], state: ChainState) -> LevelStanding | None:
    """The pending level's rule, approvals so far, what it needs and who is awaited; None
    when nothing is pending (draft, returned, recognised, closed)."""
    level = pending_level(chain, state)
    if level is None:
        return None
    if level.rule == "quorum":
        k = level.quorum or 0  # plan_problems guarantees k for a quorum level
        voted = set(state.approvals) | set(state.objections)
        return LevelStanding(
            level=level.id, rule="quorum", needed=k, approvals=list(state.approvals),
            rejections=list(state.objections), rejections_allowed=len(level.members) - k,
            awaiting=[m for m in level.members if m not in voted],
            awaiting_roles=list(level.roles),
        )
    unsigned = [r for r in level.roles if r not in state.signatures]
    return LevelStanding(
        level=level.id, rule=level.rule,
        needed=len(level.roles) if level.rule == "all_of" else 1,
        approvals=[r for r in level.roles if r in state.signatures],
        rejections=[], rejections_allowed=0, awaiting=unsigned, awaiting_roles=unsigned,
    )


def awaiting(chain: list[ApprovalLevel], state: ChainState) -> list[str]:
    """Who the pending level still waits for: the roles that have not signed (``all_of``),
    every listed role (``any_of``: any one of them passes it), or the council members who
    have not voted (``quorum``); empty when nothing is pending."""
    now = standing(chain, state)
    return now.awaiting if now is not None else []


def decide(
    chain: list[ApprovalLevel],
    scope: CaseScope,
    state: ChainState,
    decision: Submit | Approve | Reject | Delegate | Close,
) -> tuple[ChainState, list[Event]]:
    """Apply one decision. Raises ``ChainError`` (and changes nothing) when it is refused."""
    if state.status in ("recognised", "closed"):
        raise ChainError("chain.closed", "the case is closed; no decision is accepted",
                         "hồ sơ đã kết thúc; không tiếp nhận quyết định nào nữa")
    if isinstance(decision, Close):
        return state.model_copy(update={"status": "closed"}), []
    where = jurisdiction_problem(decision.actor, scope)
    if where is not None:
        raise ChainError("chain.wrong_jurisdiction", *where)
    if isinstance(decision, Submit):
        return _submit(chain, state, decision)
    level = _pending_for(chain, state, decision.level)
    if isinstance(decision, Delegate):
        return _delegate(state, level, decision)
    role = decision.actor.role
    if role not in level.roles:
        raise ChainError(
            "chain.wrong_role",
            f"role {role} does not sign level {level.id} (signers: {', '.join(level.roles)})",
            f"{ROLE_NAMES_VI[role]} không ký ở bước “{level.name_vi}” (người ký: "
            f"{', '.join(ROLE_NAMES_VI[r] for r in level.roles)})",
        )
    if level.rule == "quorum":
        return _vote(chain, state, level, decision)
    if role in state.signatures:
        raise ChainError(
            "chain.already_signed", f"role {role} already signed level {level.id} this round",
            f"{ROLE_NAMES_VI[role]} đã ký ở bước “{level.name_vi}” trong lượt này",
        )
    delegate = state.delegations.get(role)
    if delegate is not None and decision.actor.person_id != delegate:
        raise ChainError(
            "chain.delegated",
            f"the {role} sign-off of level {level.id} was delegated to another person",
            f"việc ký của {ROLE_NAMES_VI[role]} ở bước “{level.name_vi}” đã được ủy quyền "
            "cho người khác",
        )
    on_behalf = state.delegated_by.get(role) if delegate is not None else None
    if isinstance(decision, Reject):
        return _reject(state, level, decision, on_behalf)
    return _approve(chain, state, level, decision, on_behalf)


def _submit(
    chain: list[ApprovalLevel], state: ChainState, d: Submit
) -> tuple[ChainState, list[Event]]:
    if d.actor.role != "commune_ubnd":
        raise ChainError("chain.wrong_role", "only the commune (commune_ubnd) submits its dossier",
                         "chỉ UBND cấp xã nộp hồ sơ đề nghị công nhận của xã")
    if state.status == "pending":
        raise ChainError("chain.already_submitted", "the dossier is already under review",
                         "hồ sơ đang được xét duyệt")
    new_round = state.round + 1
    # every round starts at the first level (a plan has at least one: plan_problems); the
    # event names it so read models need not know the plan
    first = chain[0].id
    event: Event
    if state.status == "draft":
        event = DossierSubmitted(
            round=new_round, submitted_by=d.actor.person_id, role="commune_ubnd",
            first_level=first,
        )
    else:
        event = DossierResubmitted(
            round=new_round, submitted_by=d.actor.person_id, role="commune_ubnd",
            first_level=first,
        )
    new = ChainState(status="pending", round=new_round, level_index=0)
    return new, [event]


def level_name_vi(chain: list[ApprovalLevel], level_id: str) -> str:
    """A level's Vietnamese name, or its id when the plan has no such level."""
    return next((lv.name_vi for lv in chain if lv.id == level_id), level_id)


def _pending_for(chain: list[ApprovalLevel], state: ChainState, level_id: str) -> ApprovalLevel:
    level = pending_level(chain, state)
    if level is None:
        if state.status == "returned":
            raise ChainError(
                "chain.not_pending", "the dossier was returned to the commune; nothing is pending",
                "hồ sơ đã được trả lại cho xã; không có bước nào đang chờ quyết định",
            )
        raise ChainError("chain.not_submitted", "no dossier has been submitted yet",
                         "chưa có hồ sơ đề nghị công nhận nào được nộp")
    if level.id != level_id:
        raise ChainError(
            "chain.wrong_level", f"level {level_id} is not pending (pending: {level.id})",
            f"bước “{level_name_vi(chain, level_id)}” không chờ quyết định (đang chờ: "
            f"bước “{level.name_vi}”)",
        )
    return level


def _delegate(
    state: ChainState, level: ApprovalLevel, d: Delegate
) -> tuple[ChainState, list[Event]]:
    role = d.actor.role
    if role not in level.roles:
        raise ChainError("chain.wrong_role", f"role {role} does not sign level {level.id}",
                         f"{ROLE_NAMES_VI[role]} không ký ở bước “{level.name_vi}”")
    if level.rule == "quorum":
        # the founding decision names the members: a vote cannot pass to someone unnamed
        raise ChainError(
            "chain.not_delegable",
            f"level {level.id} is decided by its council's vote; a member's vote is personal "
            "and cannot be delegated",
            f"bước “{level.name_vi}” do hội đồng biểu quyết; phiếu biểu quyết của thành viên "
            "là của cá nhân, không được ủy quyền",
        )
    if role in state.signatures:
        raise ChainError("chain.already_signed", f"role {role} already signed level {level.id}",
                         f"{ROLE_NAMES_VI[role]} đã ký ở bước “{level.name_vi}”")
    current = state.delegations.get(role)
    if current is not None and current != d.actor.person_id:
        raise ChainError("chain.delegated", f"the {role} sign-off was delegated to another person",
                         f"việc ký của {ROLE_NAMES_VI[role]} đã được ủy quyền cho người khác")
    to = d.to
    if to.role != role or (to.province_code, to.district_code, to.commune_code) != (
        d.actor.province_code,
        d.actor.district_code,
        d.actor.commune_code,
    ):
        raise ChainError(
            "chain.bad_delegate", "a sign-off can only go to a person of the same role and unit",
            "chỉ được ủy quyền ký cho người cùng vai trò, cùng đơn vị",
        )
    if to.person_id == d.actor.person_id:
        raise ChainError("chain.bad_delegate", "cannot delegate a sign-off to oneself",
                         "không được tự ủy quyền ký cho chính mình")
    event = SignoffDelegated(
        round=state.round,
        level=level.id,
        role=role,
        from_person=d.actor.person_id,
        to_person=to.person_id,
    )
    new = state.model_copy(
        update={
            "delegations": {**state.delegations, role: to.person_id},
            "delegated_by": {**state.delegated_by, role: d.actor.person_id},
        }
    )
    return new, [event]


def _reject(
    state: ChainState, level: ApprovalLevel, d: Reject, on_behalf: str | None
) -> tuple[ChainState, list[Event]]:
    reason = d.reason.strip()
    if not reason:
        raise ChainError("chain.reason_required", "a rejection must give its reason",
                         "quyết định trả lại hồ sơ phải nêu rõ lý do")
    event = LevelRejected(
        round=state.round,
        level=level.id,
        reviewer=d.actor.person_id,
        role=d.actor.role,
        reason=reason,
        on_behalf_of=on_behalf,
    )
    new = ChainState(status="returned", round=state.round, last_rejection=reason)
    return new, [event]


def _approve(
    chain: list[ApprovalLevel],
    state: ChainState,
    level: ApprovalLevel,
    d: Approve,
    on_behalf: str | None,
) -> tuple[ChainState, list[Event]]:
    events: list[Event] = [
        SignoffRecorded(
            round=state.round,
            level=level.id,
            reviewer=d.actor.person_id,
            role=d.actor.role,
            reason=d.reason,
            on_behalf_of=on_behalf,
        )
    ]
    signatures = {**state.signatures, d.actor.role: d.actor.person_id}
    # any_of: this approval passes the level; all_of: only the last role's does
    if level.rule == "all_of" and set(signatures) != set(level.roles):
        return state.model_copy(update={"signatures": signatures}), events
    return _pass(chain, state, level, events, d.actor.person_id)


def _vote(
    chain: list[ApprovalLevel], state: ChainState, level: ApprovalLevel, d: Approve | Reject
) -> tuple[ChainState, list[Event]]:
    """A council member's vote (biểu quyết) at a quorum level."""
    member, role = d.actor.person_id, d.actor.role
    if member not in level.members:
        raise ChainError(
            "chain.not_member",
            f"person {member} is not a member of the council that decides level {level.id}",
            f"người {member} không phải thành viên hội đồng quyết định ở bước “{level.name_vi}”",
        )
    if member in state.approvals or member in state.objections:
        raise ChainError(
            "chain.already_signed", f"member {member} already voted on level {level.id} this round",
            f"thành viên {member} đã biểu quyết ở bước “{level.name_vi}” trong lượt này",
        )
    k = level.quorum or 0  # plan_problems guarantees k for a quorum level
    if isinstance(d, Reject):
        reason = d.reason.strip()
        if not reason:
            raise ChainError("chain.reason_required", "a rejecting vote must give its reason",
                             "phiếu không tán thành phải nêu rõ lý do")
        objections = {**state.objections, member: reason}
        events: list[Event] = [VoteCast(round=state.round, level=level.id, reviewer=member,
                                        role=role, vote="reject", reason=reason)]
        if len(objections) <= len(level.members) - k:  # k approvals are still reachable
            return state.model_copy(update={"objections": objections}), events
        summary = "; ".join(objections.values())
        events.append(LevelRejected(round=state.round, level=level.id, reviewer=member,
                                    role=role, reason=summary))
        return ChainState(status="returned", round=state.round, last_rejection=summary), events
    approvals = [*state.approvals, member]
    events = [VoteCast(round=state.round, level=level.id, reviewer=member, role=role,
                       vote="approve", reason=d.reason)]
    if len(approvals) < k:
        return state.model_copy(update={"approvals": approvals}), events
    return _pass(chain, state, level, events, member)


def _pass(
    chain: list[ApprovalLevel],
    state: ChainState,
    level: ApprovalLevel,
    events: list[Event],
    decided_by: str,
) -> tuple[ChainState, list[Event]]:
    """The level's rule is satisfied: move up, or recognise after the last level."""
    assert state.level_index is not None
    nxt = state.level_index + 1
    next_level = chain[nxt].id if nxt < len(chain) else None
    events = [*events, LevelApproved(round=state.round, level=level.id, next_level=next_level)]
    if next_level is None:
        events.append(RecognitionGranted(round=state.round, decided_by=decided_by))
        return ChainState(status="recognised", round=state.round), events
    return ChainState(status="pending", round=state.round, level_index=nxt), events
