"""schemathesis over the API's own ``/openapi.json`` (issue 9): every operation, with generated
and example requests, sent with the token of a person of one of several roles and again with
no token, answers without a server error and as the schema documents (status codes, bodies).

The requests go in-process to the app over the real workflows on the module's time-skipping
server. Bounded: ``MAX_EXAMPLES`` generated requests per operation and phase (examples,
coverage, fuzzing), about 40 s in all on 2 shared cores. Whatever the generated requests
start (a case, the plan's campaign, the cases a proposal starts) is terminated when the module
ends: a workflow left running would hold the server's clock.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

import catalog
from activities.admission import territory
from api import schemas
from api.app import create_app
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import Signer, issue_token
from domain.roles import Actor
from eventstore.store import EventStore
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import SIGNER
from workflows import names

PLAN = schemas.EXAMPLE_PLAN  # the examples' plan: Trà Vinh, district 851
COMMUNE = schemas.EXAMPLE_COMMUNE  # 29527, used by no other test
MAX_EXAMPLES = int(os.environ.get("DRUGFREE_FUZZ_EXAMPLES", "12"))
ISSUER = Signer.from_seed(bytes(range(96, 128)))  # the sign-on that issues people's tokens

# The people whose tokens the requests carry, in turn: each role that acts on the example
# case, an auditor, and a police officer of another province.
PEOPLE = (
    Actor(person_id="p-district", role="district_ubnd", province_code="84", district_code="851"),
    Actor(person_id="p-police", role="province_police", province_code="84"),
    Actor(person_id="p-commune", role="commune_ubnd", province_code="84", district_code="851",
          commune_code=COMMUNE),
    Actor(person_id="p-province", role="province_ubnd", province_code="84"),
    Actor(person_id="p-auditor", role="auditor", province_code="84"),
    Actor(person_id="p-outsider", role="province_police", province_code="38"),
)
# Who goes first for each operation (the person it is meant for, so the schema's examples
# reach the workflows); the others follow in turn.
FIRST = {"POST /cases": "p-district", "POST /cases/{case_id}/submissions": "p-commune",
         "POST /cases/{case_id}/attachments": "p-commune",
         "POST /cases/{case_id}/decisions": "p-police",
         "POST /cases/{case_id}/withdrawal": "p-district", "POST /campaigns/{plan_id}": "p-police",
         "POST /campaigns/{plan_id}/proposals": "p-district",
         "POST /campaigns/{plan_id}/selection": "p-police",
         "POST /campaigns/{plan_id}/recognition": "p-province"}
OPEN = {"/healthz", "/readyz", "/openapi.json"}  # the only paths that answer without a token


@dataclass
class Door:
    app: FastAPI
    http: httpx.AsyncClient
    loop: asyncio.AbstractEventLoop
    turns: dict[str, Iterator[Actor]] = field(default_factory=dict)
    seen: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def next_person(self, case: schemathesis.Case) -> Actor:
        label = f"{case.operation.method.upper()} {case.path}"
        if label not in self.turns:
            first = FIRST.get(label, "p-auditor")
            at = next(i for i, p in enumerate(PEOPLE) if p.person_id == first)
            self.turns[label] = itertools.cycle(PEOPLE[at:] + PEOPLE[:at])
        return next(self.turns[label])

    def send(self, case: schemathesis.Case, person: Actor | None) -> httpx.Response:
        """``case`` as one request to the app, on the session's loop (where the workflows'
        client, the event store's pool and the worker live); with ``person``'s token in place
        of any Authorization the case was generated with."""
        kw = case.as_transport_kwargs(base_url="http://api")
        headers = dict(kw["headers"])
        if person is not None:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            token = issue_token(ISSUER, person, datetime.now(UTC), timedelta(hours=1))
            headers["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {}
        if "json" in kw:
            body["json"] = kw["json"]
        elif kw.get("data") is not None:
            body["content"] = kw["data"]
        # Header values as the bytes a client sends (latin-1, as requests encodes them).
        raw = {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in headers.items()}
        call = self.http.request(kw["method"], kw["url"], params=kw.get("params"),
                                 headers=raw, cookies=kw.get("cookies"), **body)
        response = self.loop.run_until_complete(call)
        self.seen[case.operation.method.upper(), case.path, response.status_code] += 1
        return response


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door(temporal: Any, worker: str, store: EventStore) -> AsyncIterator[Door]:
    client, env = temporal
    service = CaseService(client, worker, store, signer=SIGNER, clock=env.get_current_time)
    today = catalog.get_plan(PLAN).local_date(await env.get_current_time())

    def clock_for(plan: Any) -> PlanClock:  # the plan rehearsed after the server's today
        return PlanClock(shift_years=rehearsal_shift(plan, today))

    app = create_app(service, Authenticator(ISSUER.ring()), max_body=64 * 1024,
                     clock_for=clock_for)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        try:
            door = Door(app, http, asyncio.get_running_loop())
            yield door
        finally:
            print("answers (method, path, status): count")  # shown with pytest -s
            for key, count in sorted(door.seen.items()):
                print(*key, count)
            await end_everything_started(client, list(service._started))


async def end_everything_started(client: Client, started: list[str]) -> None:
    """Terminate every workflow the requests may have started and left running: those the
    service started, every plan's campaign, and every case (and its chain) of the plans'
    territories, which a proposal starts from the worker."""
    ids = set(started)
    for plan_id in catalog.plan_ids():
        plan = catalog.get_plan(plan_id)
        ids.add(names.campaign_id(plan_id))
        for commune in territory(plan):
            ids.add(names.case_id(plan_id, commune))
            ids.add(names.recognition_id(plan_id, commune))

    async def end(wid: str) -> str | None:
        handle = client.get_workflow_handle(wid)
        try:
            if (await handle.describe()).status != WorkflowExecutionStatus.RUNNING:
                return None
            await handle.terminate(reason="schema test ends")
        except RPCError:
            return None
        return wid

    ended = [w for w in await asyncio.gather(*(end(w) for w in sorted(ids))) if w]
    print(f"terminated {len(ended)} workflows the generated requests started: {ended}")


@pytest.fixture(scope="module")
def api_schema(door: Door) -> Any:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", door.app)
    # A body past the app's size bound is refused before it is read (413): a rejection too.
    rejection = loaded.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return loaded


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis's lazy loader reads and renames ``item._nodeid``, which pytest 9.2 no longer
    # has (its ``nodeid`` is a read-only property now); give it the attribute it reads.
    request.node._nodeid = request.node.nodeid


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_every_answer_is_documented_and_none_is_a_server_error(
        case: schemathesis.Case, door: Door) -> None:
    documented = case.method.upper() == case.operation.method.upper()
    # As generated: no Authorization header, or a made-up one: refused (401) everywhere but
    # the health checks, and every schemathesis check holds (the auth checks included).
    response = door.send(case, None)
    validate(case, response)
    if documented and case.path not in OPEN:
        assert response.status_code in (401, 413), (case.path, response.text)

    # With a real token, of the next person in turn: the request reaches the service. The
    # checks whose premise is the Authorization header the case was generated with (missing,
    # invalid) are left to the run above, since this run replaces that header.
    person = door.next_person(case)
    response = door.send(case, person)
    about_auth = [schemathesis.checks.missing_required_header, schemathesis.checks.ignored_auth]
    if case.meta is not None and (case.meta.is_negative_at(ParameterLocation.HEADER) or str(
            getattr(case.meta.phase.data, "parameter", "")).lower() == "authorization"):
        about_auth.append(schemathesis.checks.negative_data_rejection)
    validate(case, response, about_auth, headers={"Authorization": "Bearer <token>"})


def validate(case: schemathesis.Case, response: httpx.Response,
             excluded: list[Any] | None = None, headers: dict[str, str] | None = None) -> None:
    """No server error; schemathesis's checks (status documented, body as documented, invalid
    input refused, ...); and our rule for schema-valid requests refused with 422."""
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    # Every check but "schema-valid data is accepted", which our rules refine (below).
    case.validate_response(response, headers=headers, excluded_checks=[
        schemathesis.checks.positive_data_acceptance, *(excluded or [])])
    if case.meta is not None and case.meta.generation.mode.is_positive and \
            response.status_code == 422:
        # A request the schema allows may still break a rule of the domain the schema cannot
        # say (a rejection needs a reason, metrics that contradict each other): refused with
        # that rule's code, never as a body or parameter the schema should have refused.
        assert response.json()["code"] != "input.invalid", (case.path, response.text)
