"""Issue 8, "Done when": attacks on who may act, from a plain Temporal client.

Each attack drives Temporal directly, as anyone who can reach the workflow service would:
workflow types and update names as strings, inputs as plain JSON dicts. What an attacker could
not hold (the front door's key) is used only to show that a *validly signed* but altered or
misdirected command is still refused. Each attack is refused with its code, and the event store
(and, where a campaign is involved, its counts) is checked unchanged.

Communes used here (Trà Vinh, plan tra-vinh-2025, legacy structure) are used by no other test:
the time-skipping server lives for the whole session, and so do workflow ids.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.api.enums.v1 import EventType
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from catalog import get_plan
from domain.admin_units import registry
from domain.case import CaseState
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import Signer, command_digest, prove
from domain.roles import Actor
from eventstore.errors import StreamNotFoundError
from eventstore.store import EventStore
from eventstore.urls import app_url
from runtime.trust import Trust
from tests.workflows.support import BASELINE, RELAY, SIGNER, Case, rid
from worker import running_worker
from workflows.messages import (
    CampaignInput,
    CaseInput,
    SelectionDecision,
    Withdrawal,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
CASE_WF = "CommuneConversionWorkflow"
CAMPAIGN_WF = "ProvinceCampaignWorkflow"
SELECT, WITHDRAW = "decide_selection", "withdraw"
OPEN = "open"  # the request id an opening proof is bound to (the front door's convention)
WAIT = 120  # seconds: an answer that does not come is a failure, not a hang


# -- the record -------------------------------------------------------------------------------


async def snapshot(store: EventStore) -> list[tuple[str, int]]:
    """Every stream of this module's store and its version."""
    return sorted((s.stream, s.version) for s in await store.streams())


async def versions(store: EventStore, stream: str) -> list[tuple[int, str]] | None:
    """A stream's (version, type) list; None if it does not exist."""
    try:
        return [(e.version, e.type) for e in await store.read(stream)]
    except StreamNotFoundError:
        return None


async def opened(store: EventStore, stream: str) -> list[tuple[int, str]]:
    """A case's stream once its opening is stored (appended just after its start)."""
    for _ in range(WAIT * 10):
        if (found := await versions(store, stream)) is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{stream} was never opened")


# -- what an attacker sends ---------------------------------------------------------------------


def dump(model: type[BaseModel], message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as the plain JSON a workflow decodes it to and digests (defaults filled)."""
    return model.model_validate(message).model_dump(mode="json")


def signed(signer: Signer, model: type[BaseModel], message: dict[str, Any], *, target: str,
           now: Any, actor_field: str = "actor", request_id: str | None = None,
           via: str | None = None) -> dict[str, Any]:
    """``message`` with a command proof by ``signer`` for ``target`` and its own content."""
    body = dump(model, message)
    proof = prove(signer, Actor.model_validate(body[actor_field]), target=target,
                  request_id=request_id or str(body.get("request_id", OPEN)),
                  digest=command_digest(body), now=now, via=via)
    return {**body, "proof": proof}


def case_start(case: Case, **over: Any) -> dict[str, Any]:
    start: dict[str, Any] = {
        "plan": case.plan.model_dump(mode="json"), "scope": case.scope.model_dump(mode="json"),
        "opened_by": case.actor("district_ubnd").model_dump(mode="json"),
        "baseline": dict(BASELINE), "clock": case.clock.model_dump(mode="json"),
    }
    return {**start, **over}


async def opening(case: Case, start: dict[str, Any], signer: Signer = SIGNER,
                  target: str | None = None, now: Any = None) -> dict[str, Any]:
    return signed(signer, CaseInput, start, target=target or case.id, actor_field="opened_by",
                  request_id=OPEN, now=now or await case.env.get_current_time())


async def start_refused(client: Client, workflow: str, start: dict[str, Any], wid: str,
                        task_queue: str) -> str:
    """Start ``workflow`` as a plain client; it must fail by itself. Its failure's code."""
    handle = await client.start_workflow(workflow, start, id=wid, task_queue=task_queue)
    with pytest.raises(WorkflowFailureError) as err:
        await asyncio.wait_for(handle.result(), WAIT)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError), repr(cause)
    return f"{cause.type}"


async def update_refused(handle: WorkflowHandle[Any, Any], update: str,
                         message: dict[str, Any]) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as err:
        await asyncio.wait_for(handle.execute_update(update, message), WAIT)
    cause = err.value.cause
    assert isinstance(cause, ApplicationError), repr(cause)
    return f"{cause.type}"


async def history_inputs(client: Client, workflow_id: str) -> tuple[dict[str, Any],
                                                                      list[dict[str, Any]]]:
    """What a workflow's history holds of its start and of every accepted update, decoded
    as anyone holding the payload key (an operator) reads it: (start input, update inputs)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    conv = client.data_converter
    start: dict[str, Any] = {}
    updates: list[dict[str, Any]] = []
    for e in history.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            [start] = await conv.decode(
                e.workflow_execution_started_event_attributes.input.payloads, [dict])
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            req = e.workflow_execution_update_accepted_event_attributes.accepted_request
            [msg] = await conv.decode(req.input.args.payloads, [dict])
            updates.append({"update": req.input.name, **msg})
    return start, updates


async def end(case: Case) -> None:
    """Close a started case (withdrawn) and wait for its run to end: a running workflow left
    behind stalls the time-skipping server."""
    await case.withdraw("kết thúc thử nghiệm / end of test")
    result = await asyncio.wait_for(
        (await case.service.handle_for_result(case.id)).result(), WAIT)
    outcome = result["outcome"] if isinstance(result, dict) else result.outcome
    assert outcome == "withdrawn"


def territory() -> dict[str, str | None]:
    """The catalogue's communes of Trà Vinh with their districts, read from the registry."""
    plan = get_plan(PLAN)
    return {c.code: c.district_code
            for c in registry(plan.structure).communes_of_province(plan.province_code)}


# -- 1. starts without a key, with a foreign key, or changed after signing --------------------


async def test_a_case_start_needs_a_valid_proof_for_exactly_its_input(
        make_case: Any, store: EventStore) -> None:
    case: Case = await make_case(PLAN, "29416")
    before = await snapshot(store)
    client, tq = case.client, case.tq
    start = case_start(case)

    assert await start_refused(client, CASE_WF, dump(CaseInput, start), case.id, tq) == \
        "identity.missing_token"
    foreign = await opening(case, start, signer=Signer.generate())
    assert await start_refused(client, CASE_WF, foreign, case.id, tq) == "identity.unknown_key"
    # signed for this input, then another baseline put in its place
    changed = {**await opening(case, start), "baseline": {**BASELINE, "addicts_total": 26,
                                                           "addicts_in_community": 26}}
    assert await start_refused(client, CASE_WF, changed, case.id, tq) == \
        "identity.wrong_content"
    # ... or another opener (same proof, another person of the same role)
    impostor = {**await opening(case, start),
                "opened_by": case.actor("district_ubnd", "p-other").model_dump(mode="json")}
    assert await start_refused(client, CASE_WF, impostor, case.id, tq) == "identity.mismatch"
    # a proof that expired before the start
    stale = await opening(case, start, now=await case.env.get_current_time() -
                          timedelta(hours=1))
    assert await start_refused(client, CASE_WF, stale, case.id, tq) == "identity.expired"
    assert await snapshot(store) == before
    assert await versions(store, case.id) is None

    # the commune's real opening is unharmed: its stream starts at version 1. Rehearsed from
    # the server's clock now: it can jump years during the refused starts' result waits
    # (README, the time-skipping server's habits), past the plan the first rehearsal chose.
    case = await make_case(PLAN, "29416")
    await case.start()
    await case.select()  # (answered once the opening is stored)
    assert (await versions(store, case.id) or [])[:1] == [(1, "case.opened")]
    await end(case)


# -- 2. a plan that is not the catalogue's ----------------------------------------------------


async def test_a_plan_other_than_the_catalogues_is_refused(
        make_case: Any, store: EventStore) -> None:
    case: Case = await make_case(PLAN, "29419")
    before = await snapshot(store)
    client, tq = case.client, case.tq
    plan = case.plan.model_dump(mode="json")
    # one level of sign-off instead of four, correctly signed by the front door
    short = {**plan, "approval_chain": plan["approval_chain"][:1]}
    start = await opening(case, case_start(case, plan=short))
    assert await start_refused(client, CASE_WF, start, case.id, tq) == "plan.mismatch"
    # the same plan under an id the catalogue does not have
    unknown = {**plan, "id": "tra-vinh-2099"}
    wid = f"conversion:tra-vinh-2099:{case.scope.commune_code}"
    start = await opening(case, case_start(case, plan=unknown), target=wid)
    assert await start_refused(client, CASE_WF, start, wid, tq) == "plan.not_published"
    assert await snapshot(store) == before


# -- 3. a clock other than the plan's, where rehearsals are not allowed -----------------------


async def test_a_shifted_clock_is_refused_by_a_worker_that_runs_plans_on_their_dates(
        make_case: Any, store: EventStore, case_db: str) -> None:
    case: Case = await make_case(PLAN, "29422")
    assert case.clock != PlanClock()  # a rehearsal: the plan's year moved to today's
    client = case.client
    before = await snapshot(store)
    strict = f"tq-strict-{uuid.uuid4().hex[:8]}"
    async with running_worker(client, app_url(case_db), task_queue=strict,
                              trust=Trust.of(SIGNER, relay=RELAY)):
        start = await opening(case, case_start(case))
        assert await start_refused(client, CASE_WF, start, case.id, strict) == \
            "clock.not_allowed"
        # the same clock, compressed instead of shifted, is no better
        origin = (await case.env.get_current_time()).isoformat()
        squeezed = await opening(case, case_start(case, clock={"seconds_per_day": 60,
                                                               "origin": origin}))
        assert await start_refused(client, CASE_WF, squeezed, case.id, strict) == \
            "clock.not_allowed"
    assert await snapshot(store) == before


# -- 4. a campaign over other communes, or opened by the wrong person --------------------------


async def test_a_campaign_other_than_the_catalogues_is_refused(
        temporal: Any, worker: str, store: EventStore) -> None:
    client, env = temporal
    plan = get_plan(PLAN)
    today = plan.local_date(await env.get_current_time())
    clock = PlanClock(shift_years=rehearsal_shift(plan, today)).model_dump(mode="json")
    communes = territory()
    province = Actor(person_id="p-province", role="province_ubnd", province_code="84")
    before = await snapshot(store)

    async def campaign(opened_by: Actor, commune_districts: dict[str, str | None]) -> str:
        wid = f"campaign:{PLAN}:{uuid.uuid4().hex[:6]}"
        start = signed(SIGNER, CampaignInput, {
            "plan": plan.model_dump(mode="json"), "clock": clock,
            "commune_districts": commune_districts,
            "opened_by": opened_by.model_dump(mode="json")},
            target=wid, actor_field="opened_by", request_id=OPEN,
            now=await env.get_current_time())
        return await start_refused(client, CAMPAIGN_WF, start, wid, worker)

    # five communes: one recognised commune would meet a 20% target
    few = dict(sorted(communes.items())[:5])
    assert await campaign(province, few) == "campaign.communes_mismatch"
    # the province's communes plus one of another province (Như Xuân's, Thanh Hóa)
    assert await campaign(province, {**communes, "16174": "402"}) == \
        "campaign.communes_mismatch"
    # a commune's People's Committee may not open the province's campaign
    commune = Actor(person_id="p-commune", role="commune_ubnd", province_code="84",
                    district_code="848", commune_code="29416")
    assert await campaign(commune, communes) == "campaign.wrong_role"
    # nor another province's People's Committee
    assert await campaign(province.model_copy(update={"province_code": "38"}), communes) == \
        "campaign.wrong_jurisdiction"
    assert await snapshot(store) == before


# -- 9. a continue-as-new forged by a plain start -----------------------------------------------


async def test_a_start_carrying_state_is_refused(make_case: Any, store: EventStore) -> None:
    case: Case = await make_case(PLAN, "29455")
    before = await snapshot(store)
    recognised = CaseState(opened=True, status="closed", phase=3, selected=True,
                           criteria_met=True, outcome="recognised").model_dump(mode="json")
    carried = {"case": recognised, "done_agenda": [], "event_seq": 40, "replies": {}}
    # even signed by the front door for exactly this input: only the workflow itself carries
    start = await opening(case, case_start(case, carried=carried))
    assert await start_refused(case.client, CASE_WF, start, case.id, case.tq) == \
        "case.forged_carry"
    # and a campaign "carried" across with 21 communes recognised
    client, env = case.client, case.env
    wid = f"campaign:{PLAN}:{uuid.uuid4().hex[:6]}"
    codes = sorted(territory())[:21]
    start = signed(SIGNER, CampaignInput, {
        "plan": case.plan.model_dump(mode="json"), "clock": case.clock.model_dump(mode="json"),
        "commune_districts": territory(),
        "opened_by": case.actor("province_ubnd").model_dump(mode="json"),
        "carried": {"proposed": {c: None for c in codes}, "selection_done": True,
                    "selected": codes, "closed": {c: "recognised" for c in codes},
                    "replies": {}}},
        target=wid, actor_field="opened_by", request_id=OPEN, now=await env.get_current_time())
    assert await start_refused(client, CAMPAIGN_WF, start, wid, case.tq) == \
        "campaign.forged_carry"
    assert await snapshot(store) == before
    assert await versions(store, case.id) is None


# -- 5. proofs lifted from history --------------------------------------------------------------


async def test_a_proof_lifted_from_history_authorises_nothing_else(
        make_case: Any, store: EventStore) -> None:
    a: Case = await make_case(PLAN, "29434")
    b: Case = await make_case(PLAN, "29437")
    await a.start()
    await b.start()
    first = await a.select(reason="đủ điều kiện / eligible")
    record = {a.id: await versions(store, a.id), b.id: await opened(store, b.id)}
    status = await a.handle.query("status")

    start, updates = await history_inputs(a.client, a.id)
    [selection] = [u for u in updates if u.pop("update") == SELECT]
    assert selection["request_id"] == first.request_id and selection["proof"]
    assert start["proof"] and start["opened_by"]["role"] == "district_ubnd"

    # (a) the same decision, word for word, sent to another case (within the proof's life)
    assert await update_refused(b.handle, SELECT, selection) == "identity.wrong_target"
    # (b) the same case, another question (a new request id; not selected this time)
    again = {**selection, "request_id": rid(), "selected": False, "reason": "giả mạo / forged"}
    assert await update_refused(a.handle, SELECT, again) == "identity.wrong_request"
    # (c) the same request id with other content: the proof is checked before the request
    # id's remembered reply, so it is refused (an old reply is for no one); the same words
    # again are a retry, answered from memory; nothing is decided again
    same_id = {**selection, "selected": False, "reason": "giả mạo / forged"}
    assert await update_refused(a.handle, SELECT, same_id) == "identity.wrong_content"
    assert await asyncio.wait_for(a.handle.execute_update(SELECT, selection), WAIT) == \
        first.model_dump(mode="json")
    # (d) the opener's proof (request "open", in the started event) for a withdrawal by the
    # same district person, under the request id it was signed for: other content
    withdrawal = {"request_id": OPEN, "actor": start["opened_by"],
                  "reason": "giả mạo / forged", "proof": start["proof"]}
    assert await update_refused(a.handle, WITHDRAW, withdrawal) == "identity.wrong_content"
    assert await update_refused(b.handle, WITHDRAW, withdrawal) == "identity.wrong_target"
    assert await update_refused(a.handle, WITHDRAW, {**withdrawal, "request_id": rid()}) == \
        "identity.wrong_request"

    assert await versions(store, a.id) == record[a.id]
    assert await versions(store, b.id) == record[b.id]
    assert [t for _, t in record[b.id] or []] == ["case.opened", "metrics.recorded"]
    assert await a.handle.query("status") == status
    await end(a)
    await end(b)


# -- 6. an expired proof ----------------------------------------------------------------------


async def test_an_expired_proof_is_refused(make_case: Any, store: EventStore) -> None:
    case: Case = await make_case(PLAN, "29443")
    await case.start()
    await case.select()
    record = await versions(store, case.id)
    now = await case.env.get_current_time()
    police = case.actor("province_police").model_dump(mode="json")
    decision = {"request_id": rid(), "actor": police, "selected": True, "reason": ""}
    for age in (timedelta(minutes=6), timedelta(days=1)):
        old = signed(SIGNER, SelectionDecision, decision, target=case.id, now=now - age)
        assert await update_refused(case.handle, SELECT, old) == "identity.expired"
    district = case.actor("district_ubnd").model_dump(mode="json")
    old = signed(SIGNER, Withdrawal, {"request_id": rid(), "actor": district,
                                      "reason": "hết hạn / stale"},
                 target=case.id, now=now - timedelta(hours=2))
    assert await update_refused(case.handle, WITHDRAW, old) == "identity.expired"
    assert await versions(store, case.id) == record
    await end(case)


# -- 7. a relayed proof from another campaign ---------------------------------------------------


async def test_a_relayed_proof_counts_only_from_the_cases_own_campaign(
        make_case: Any, store: EventStore) -> None:
    loose: Case = await make_case(PLAN, "29449")  # a case no campaign opened
    await loose.start()
    member: Case = await make_case(PLAN, "29446")  # a case of a campaign
    camp_id = await member.service.start_campaign(
        member.plan, member.actor("province_ubnd"), clock=member.clock,
        campaign_id=f"campaign:{PLAN}:{uuid.uuid4().hex[:6]}")
    camp = await member.service.handle_for_result(camp_id)
    try:
        reply = await member.service.propose(camp_id, member.actor("district_ubnd"),
                                             {member.scope.commune_code: BASELINE})
        assert reply.results == {member.scope.commune_code: "ok"}
        counts = await camp.query("status")
        record = {c.id: await opened(store, c.id) for c in (loose, member)}
        # a list decision of "campaign:other", relayed with the worker's own relay key
        now = await member.env.get_current_time()
        for c in (loose, member):
            forged = signed(RELAY, SelectionDecision, {
                "request_id": rid(), "actor": c.actor("province_police").model_dump(mode="json"),
                "selected": True, "reason": ""}, target=c.id, now=now,
                via=f"campaign:{PLAN}:other")
            assert await update_refused(c.handle, SELECT, forged) == "identity.wrong_relay"
        for c in (loose, member):
            assert await versions(store, c.id) == record[c.id]
        assert await camp.query("status") == counts
        await end(loose)
        await end(member)
    finally:
        await camp.terminate(reason="test over")


# -- 8. a 10 MB reason --------------------------------------------------------------------------


async def test_a_ten_megabyte_reason_is_refused_and_the_case_goes_on(
        make_case: Any, store: EventStore) -> None:
    case: Case = await make_case(PLAN, "29452")
    await case.start()
    record = await opened(store, case.id)
    district = case.actor("district_ubnd").model_dump(mode="json")
    police = case.actor("province_police").model_dump(mode="json")
    huge = "x" * 10_000_000
    for update, message in (
            (WITHDRAW, {"request_id": rid(), "actor": district, "reason": huge}),
            (SELECT, {"request_id": rid(), "actor": police, "selected": False,
                      "reason": huge})):
        with pytest.raises((RPCError, WorkflowUpdateFailedError)) as err:
            await asyncio.wait_for(case.handle.execute_update(update, message), WAIT)
        if isinstance(err.value, WorkflowUpdateFailedError):  # refused by the decoder
            cause = err.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "input.invalid"
            assert "reason" in cause.message and "xxxx" not in cause.message
        else:  # refused by the server before any worker saw it
            assert "xxxx" not in err.value.message
        assert await versions(store, case.id) == record
    # the case is unharmed: the next decision goes through
    assert (await case.select()).accepted
    assert [t for _, t in await versions(store, case.id) or []][len(record):] == \
        ["selection.approved"]
    await end(case)


# -- a start replayed under another workflow id -------------------------------------------------


async def test_an_opening_replayed_under_another_workflow_id_is_refused(
        make_case: Any, store: EventStore) -> None:
    """The opening proof is bound to the case's workflow id; a plain client could start the
    same input (lifted from the started event, proof and all) under any other id."""
    case: Case = await make_case(PLAN, "29458")
    await case.start()
    record = await opened(store, case.id)
    start, _ = await history_inputs(case.client, case.id)
    twin = f"twin-{uuid.uuid4().hex[:6]}"
    handle = await case.client.start_workflow(CASE_WF, start, id=twin, task_queue=case.tq)
    try:
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), WAIT)
        cause = err.value.cause
        assert isinstance(cause, ApplicationError), repr(cause)
        assert cause.type == "case.wrong_id", cause.type
        assert await versions(store, case.id) == record
    finally:
        if (await handle.describe()).close_time is None:
            await handle.terminate(reason="test over")
    # the real case goes on, alone in its stream
    assert (await case.select()).accepted
    await end(case)


# -- a plan naming sets the catalogue lacks -----------------------------------------------------


async def test_a_plan_naming_unknown_sets_fails_at_once_and_writes_nothing(
        make_case: Any, store: EventStore) -> None:
    """Never wedged: the plan's sets resolve when the workflow is built; one the catalogue
    lacks failed every workflow task, forever, before the admission could refuse it."""
    case: Case = await make_case(PLAN, "29461")
    before = await snapshot(store)
    plan = {**case.plan.model_dump(mode="json"), "criteria": None,
            "criteria_set": "no-such-set"}
    start = await opening(case, case_start(case, plan=plan))
    handle = await case.client.start_workflow(CASE_WF, start, id=case.id, task_queue=case.tq)
    try:
        with pytest.raises(WorkflowFailureError) as err:
            await asyncio.wait_for(handle.result(), 30)
        cause = err.value.cause
        assert isinstance(cause, ApplicationError), repr(cause)
        assert cause.type == "criteria.unknown", cause.type
    finally:
        if (await handle.describe()).close_time is None:
            await handle.terminate(reason="test over")
    assert await snapshot(store) == before
