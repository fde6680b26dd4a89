"""The recognition approval chain (quy trình xét, công nhận) as a pure state machine.

``decide(chain, scope, state, decision) -> (new_state, events)`` over a plan's ordered levels
(001 §III.4, 003 §IV): the commune submits its dossier (hồ sơ); at each level every listed role
must approve (parallel sign-offs); the level passes when all have; the last level's pass is the
recognition (công nhận). Any rejection sends the dossier back to the commune with the reasons;
a resubmission starts a new round from the first level. Nothing is accepted once closed.

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
)
from domain.plan import ApprovalLevel
from domain.roles import Actor, CaseScope, jurisdiction_error

ChainStatus = Literal["draft", "pending", "returned", "recognised", "closed"]


class ChainError(DomainError):
    """A refused decision. Codes are stable: clients and tests match on them."""


class ChainState(BaseModel):
    """Where a dossier stands. ``signatures`` are the current level's role -> person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ChainStatus = "draft"
    round: int = 0
    level_index: int | None = None
    signatures: dict[str, str] = {}
    delegations: dict[str, str] = {}  # role -> person the pending sign-off was handed to
    delegated_by: dict[str, str] = {}  # role -> person who handed it over
    last_rejection: str | None = None


class _Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    actor: Actor


class Submit(_Decision):
    """Nộp hồ sơ: the commune submits (round 1) or resubmits after a rejection."""

    kind: Literal["submit"] = "submit"


class Approve(_Decision):
    """Đồng ý: one role of the pending level signs."""

    kind: Literal["approve"] = "approve"
    level: str
    reason: str = Field(default="", max_length=2000)


class Reject(_Decision):
    """Không đồng ý: return the dossier to the commune; a reason is required."""

    kind: Literal["reject"] = "reject"
    level: str
    reason: str = Field(max_length=2000)


class Delegate(_Decision):
    """Ủy quyền: hand a pending sign-off to another person of the same role and jurisdiction."""

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


def decide(
    chain: list[ApprovalLevel],
    scope: CaseScope,
    state: ChainState,
    decision: Submit | Approve | Reject | Delegate | Close,
) -> tuple[ChainState, list[Event]]:
    """Apply one decision. Raises ``ChainError`` (and changes nothing) when it is refused."""
    if state.status in ("recognised", "closed"):
        raise ChainError("chain.closed", "the case is closed; no decision is accepted")
    if isinstance(decision, Close):
        return state.model_copy(update={"status": "closed"}), []
    where = jurisdiction_error(decision.actor, scope)
    if where is not None:
        raise ChainError("chain.wrong_jurisdiction", where)
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
        )
    if role in state.signatures:
        raise ChainError(
            "chain.already_signed", f"role {role} already signed level {level.id} this round"
        )
    delegate = state.delegations.get(role)
    if delegate is not None and decision.actor.person_id != delegate:
        raise ChainError(
            "chain.delegated",
            f"the {role} sign-off of level {level.id} was delegated to another person",
        )
    on_behalf = state.delegated_by.get(role) if delegate is not None else None
    if isinstance(decision, Reject):
        return _reject(state, level, decision, on_behalf)
    return _approve(chain, state, level, decision, on_behalf)


def _submit(
    chain: list[ApprovalLevel], state: ChainState, d: Submit
) -> tuple[ChainState, list[Event]]:
    if d.actor.role != "commune_ubnd":
        raise ChainError("chain.wrong_role", "only the commune (commune_ubnd) submits its dossier")
    if state.status == "pending":
        raise ChainError("chain.already_submitted", "the dossier is already under review")
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


def _pending_for(chain: list[ApprovalLevel], state: ChainState, level_id: str) -> ApprovalLevel:
    level = pending_level(chain, state)
    if level is None:
        if state.status == "returned":
            raise ChainError(
                "chain.not_pending", "the dossier was returned to the commune; nothing is pending"
            )
        raise ChainError("chain.not_submitted", "no dossier has been submitted yet")
    if level.id != level_id:
        raise ChainError(
            "chain.wrong_level", f"level {level_id} is not pending (pending: {level.id})"
        )
    return level


def _delegate(
    state: ChainState, level: ApprovalLevel, d: Delegate
) -> tuple[ChainState, list[Event]]:
    role = d.actor.role
    if role not in level.roles:
        raise ChainError("chain.wrong_role", f"role {role} does not sign level {level.id}")
    if role in state.signatures:
        raise ChainError("chain.already_signed", f"role {role} already signed level {level.id}")
    current = state.delegations.get(role)
    if current is not None and current != d.actor.person_id:
        raise ChainError("chain.delegated", f"the {role} sign-off was delegated to another person")
    to = d.to
    if to.role != role or (to.province_code, to.district_code, to.commune_code) != (
        d.actor.province_code,
        d.actor.district_code,
        d.actor.commune_code,
    ):
        raise ChainError(
            "chain.bad_delegate", "a sign-off can only go to a person of the same role and unit"
        )
    if to.person_id == d.actor.person_id:
        raise ChainError("chain.bad_delegate", "cannot delegate a sign-off to oneself")
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
        raise ChainError("chain.reason_required", "a rejection must give its reason")
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
    assert state.level_index is not None
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
    if set(signatures) != set(level.roles):
        return state.model_copy(update={"signatures": signatures}), events
    nxt = state.level_index + 1
    next_level = chain[nxt].id if nxt < len(chain) else None
    events.append(LevelApproved(round=state.round, level=level.id, next_level=next_level))
    if next_level is None:
        events.append(RecognitionGranted(round=state.round, decided_by=d.actor.person_id))
        return ChainState(status="recognised", round=state.round), events
    return ChainState(status="pending", round=state.round, level_index=nxt), events
