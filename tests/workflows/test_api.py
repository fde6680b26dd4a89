"""The HTTP API (issue 9) over the real workflows: a case from start to recognition through
HTTP, with a rejection with its reason and a resubmission; 401, 403, 404, 409, 413 and 422
answers with the domain's codes; Idempotency-Key retries answered once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import pytest_asyncio
import structlog.testing

from api.app import create_app
from domain.identity import Signer, issue_token, token_hash
from domain.roles import Actor
from eventstore import disk
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, CLEAN, SIGNER, Case
from tests.workflows.test_trust_attacks import history_inputs

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
COMMUNE, NEIGHBOUR = "29530", "29533"  # district 850; used by no other test
ISSUER = Signer.from_seed(bytes(range(64, 96)))  # the sign-on that issues people's tokens


def token(actor: Actor, signer: Signer = ISSUER, ttl: timedelta = timedelta(hours=1)) -> str:
    return issue_token(signer, actor, datetime.now(UTC), ttl)


def bearer(actor: Actor, **kw: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(actor, **kw)}"}


@pytest_asyncio.fixture(loop_scope="session")
async def api(make_case: Any, store: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Case]]:
    case: Case = await make_case(PLAN, COMMUNE)
    service = CaseService(case.client, case.tq, store, signer=SIGNER,
                          clock=case.env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()), max_body=64 * 1024,
                     clock_for=lambda _: case.clock)  # the plan rehearsed after today
    case.service = service  # the test's own waits use the handles the API's service started
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield http, case


def code_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "message_vi", "message_en"}, body
    return str(body["code"])


async def test_readiness_says_the_database_disk_is_full(
        api: tuple[httpx.AsyncClient, Case]) -> None:
    """While this process's writes meet a full disk (eventstore/disk.py), /readyz says so in
    both languages but stays 200 (degraded): the API still serves reads; then ready again."""
    http, _ = api
    with structlog.testing.capture_logs():  # the state's two lines (checked in tests/eventstore)
        try:
            disk.noted(asyncpg.DiskFullError("could not extend file: No space left on device"))
            full = await http.get("/readyz")
        finally:
            disk.cleared()
    assert full.status_code == 200, full.text
    assert full.json()["status"] == "degraded" and full.json()["database"] == "disk_full"
    assert full.json()["message_vi"].startswith("cơ sở dữ liệu hết dung lượng đĩa")
    assert "database: disk full" in full.json()["message_en"]
    assert (await http.get("/readyz")).json() == {"status": "ready"}


async def test_a_case_from_start_to_recognition_through_http(
        api: tuple[httpx.AsyncClient, Case], store: Any) -> None:
    http, case = api
    district, police = case.actor("district_ubnd"), case.actor("province_police")
    commune = case.actor("commune_ubnd")
    # nothing answers without a token but the health checks
    assert (await http.get("/healthz")).status_code == 200
    assert (await http.get("/readyz")).status_code == 200
    r = await http.get("/cases")
    assert r.status_code == 401 and code_of(r) == "identity.missing_token"
    forged = await http.get("/cases", headers=bearer(district, signer=Signer.generate()))
    assert forged.status_code == 401 and code_of(forged) == "identity.unknown_key"
    expired = await http.get("/cases", headers={
        "Authorization": "Bearer " + issue_token(ISSUER, district,
                                                 datetime.now(UTC) - timedelta(hours=2),
                                                 timedelta(hours=1))})
    assert expired.status_code == 401 and code_of(expired) == "identity.expired"

    # the district opens the case; a commune officer may not; another province may not see it
    body = {"plan_id": PLAN, "commune_code": COMMUNE, "baseline": BASELINE}
    r = await http.post("/cases", json=body, headers=bearer(commune))
    assert r.status_code == 403 and code_of(r) == "case.wrong_role"
    r = await http.post("/cases", json=body, headers={**bearer(district),
                                                       "Idempotency-Key": "open-1"})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    # a retried start (same key, same person) gets the first answer; a second start conflicts
    retry = await http.post("/cases", json=body, headers={**bearer(district),
                                                           "Idempotency-Key": "open-1"})
    assert retry.status_code == 201 and retry.json() == r.json()
    other = case.actor("district_ubnd", "someone-else")
    r = await http.post("/cases", json=body, headers={**bearer(other),
                                                       "Idempotency-Key": "open-1"})
    assert r.status_code == 409 and code_of(r) == "case.already_exists"
    assert case_id == case.id
    outsider = Actor(person_id="p-x", role="province_police", province_code="38")
    r = await http.get(f"/cases/{case_id}", headers=bearer(outsider))
    assert r.status_code == 403 and code_of(r) == "case.wrong_jurisdiction"
    r = await http.get("/cases/conversion:nope-2025:29530", headers=bearer(district))
    assert r.status_code == 404

    # selection, retried with the same Idempotency-Key: one decision, one answer
    sel = {"kind": "select", "reason": ""}
    police_token = token(police)
    as_police = {"Authorization": f"Bearer {police_token}", "Idempotency-Key": "sel-1"}
    first = await http.post(f"/cases/{case_id}/decisions", json=sel, headers=as_police)
    again = await http.post(f"/cases/{case_id}/decisions", json=sel, headers=as_police)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    types = [e.type for e in await store.read(case_id)]
    assert types.count("selection.approved") == 1
    # the workflow's record links the decision to the sign-in by the token's hash, never
    # the token itself
    _, updates = await history_inputs(case.client, case_id)
    selections = [u for u in updates if u["update"] == "decide_selection"]
    assert len(selections) == 2  # the first and its retry (answered from memory)
    for selection in selections:
        claims = jwt.decode(selection["proof"], options={"verify_signature": False})
        assert claims["tok"] == token_hash(police_token)
    assert police_token not in str(updates)

    # reports, each by the commune a day before it is due
    for d in sorted(case.plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier") or \
                d.due > case.plan.deadline("dossier").due:
            continue
        await case.advance_to(d.due - timedelta(days=1))
        r = await http.post(f"/cases/{case_id}/submissions", headers=bearer(commune), json={
            "deadline_id": d.id, "metrics": CLEAN if d.kind == "phase_report" else None,
            "summary": "đã thực hiện"})
        assert r.status_code == 200, r.text
    neighbour = case.actor("commune_ubnd", commune_code=NEIGHBOUR)
    r = await http.post(f"/cases/{case_id}/submissions", headers=bearer(neighbour),
                        json={"deadline_id": "dossier", "metrics": CLEAN})
    assert r.status_code == 403 and code_of(r) == "case.wrong_jurisdiction"
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    r = await http.post(f"/cases/{case_id}/submissions", headers=bearer(commune),
                        json={"deadline_id": "dossier", "metrics": CLEAN})
    assert r.status_code == 200 and r.json()["criteria_met"] is True

    # the first level returns the dossier (a reason is required), the commune resubmits
    first_level = case.plan.approval_chain[0]
    reviewer = case.actor(first_level.roles[0])
    for _ in range(100):  # the read model follows the record within moments
        box = (await http.get("/inbox", headers=bearer(reviewer))).json()
        if any(i["case_id"] == case_id and i["subject"] == first_level.id
               for i in box["items"]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the pending level never reached the reviewer's inbox: {box}")
    other = (await http.get("/inbox", headers=bearer(case.actor(
        first_level.roles[0], district_code="851")))).json()
    assert all(i["case_id"] != case_id for i in other["items"])  # another district's officer
    r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(reviewer),
                        json={"kind": "reject"})
    assert r.status_code == 422 and code_of(r) == "decision.reason_required"
    r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(reviewer),
                        json={"kind": "reject", "reason": "thiếu biên bản họp dân"})
    assert r.status_code == 200, r.text
    r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(reviewer),
                        json={"kind": "approve"})
    assert r.status_code == 409 and code_of(r) == "chain.not_pending"
    r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(commune),
                        json={"kind": "resubmit"})
    assert r.status_code == 200, r.text
    # a refusal from inside the workflow (the chain's validator) is read in Vietnamese too
    last_level = case.plan.approval_chain[-1]
    r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(reviewer),
                        json={"kind": "approve", "level": last_level.id})
    assert r.status_code == 422 and code_of(r) == "chain.wrong_level"
    refusal = r.json()
    assert last_level.name_vi in refusal["message_vi"] and "không chờ quyết định" in \
        refusal["message_vi"] and refusal["message_en"].startswith(f"level {last_level.id}")
    for level in case.plan.approval_chain:
        for role in level.roles:
            r = await http.post(f"/cases/{case_id}/decisions", headers=bearer(case.actor(role)),
                                json={"kind": "approve", "level": level.id})
            assert r.status_code == 200, (level.id, role, r.text)
    assert (await case.service.result(case.ref)).outcome == "recognised"

    # reads: status, history (the rejection's reason is there), the list
    view = (await http.get(f"/cases/{case_id}", headers=bearer(district))).json()
    assert view["case"]["outcome"] == "recognised"
    history = (await http.get(f"/cases/{case_id}/history",
                              headers=bearer(case.actor("auditor")))).json()
    assert history[0]["type"] == "case.opened" and history[-1]["type"] == "case.closed"
    assert any(e["type"] == "level.rejected" and "biên bản" in str(e["payload"])
               for e in history)
    page = (await http.get(f"/cases?plan={PLAN}", headers=bearer(district))).json()
    assert [row["stream"] for row in page["items"]] == [case_id] and page["total"] == 1
    assert (await http.get(f"/cases?plan={PLAN}", headers=bearer(outsider))).json()[
        "total"] == 0
    # an auditor reads and changes nothing
    r = await http.post(f"/cases/{case_id}/withdrawal", headers=bearer(case.actor("auditor")),
                        json={"reason": "thử"})
    assert r.status_code == 403 and code_of(r) == "access.read_only"


async def test_bad_bodies_are_refused_naming_the_field(
        api: tuple[httpx.AsyncClient, Case]) -> None:
    http, case = api
    district = bearer(case.actor("district_ubnd"))
    r = await http.post("/cases", headers=district, json={"plan_id": PLAN})
    assert r.status_code == 422 and code_of(r) == "input.invalid"
    assert "commune_code" in r.json()["message_en"]
    # a stranger learns nothing about what a body lacks: no valid token, no details
    for stranger in ({}, {"Authorization": "Bearer not-a-token"}):
        r = await http.post("/cases", headers=stranger, json={"plan_id": PLAN})
        assert r.status_code == 401 and "commune_code" not in r.text, r.text
    r = await http.post("/cases", headers={**district, "Content-Type": "application/json"},
                        content=b'{"plan_id": "' + b"x" * 70_000 + b'"}')
    assert r.status_code == 413 and code_of(r) == "input.too_large"
    r = await http.post("/cases", headers=district, json={
        "plan_id": PLAN, "commune_code": NEIGHBOUR,
        "baseline": {**BASELINE, "addicts_with_records": 999}})
    assert r.status_code == 422 and code_of(r) == "metrics.invalid"
    assert "999" not in r.text  # the field and the rule, not the value
    r = await http.post("/cases", headers=district, json={
        "plan_id": PLAN, "commune_code": "99999", "baseline": BASELINE})
    assert r.status_code == 404


async def test_a_nul_character_in_the_address_is_bad_input_not_a_server_error(
        api: tuple[httpx.AsyncClient, Case], store: Any) -> None:
    """PostgreSQL text holds no NUL: a parameter carrying one is named and refused before any
    route (schemathesis found GET /cases?plan=...%00 answered 500)."""
    http, case = api
    police = bearer(case.actor("province_police"))
    before = await store.pool.fetchval("SELECT count(*) FROM events")
    r = await http.get("/cases?plan=tra%00vinh&state=open", headers=police)
    assert r.status_code == 422 and code_of(r) == "input.invalid"
    assert r.json()["message_en"] == "query.plan: holds a NUL character"
    assert "ký tự NUL" in r.json()["message_vi"]
    r = await http.get("/cases/conversion:tra-vinh-2025:29%0036/history", headers=police)
    assert r.status_code == 422 and r.json()["message_en"] == "path: holds a NUL character"
    r = await http.post("/cases?x=%00", headers=police, json={})
    assert r.status_code == 422 and code_of(r) == "input.invalid"
    page = await http.get("/ui/cases?plan=%00")
    assert page.status_code == 400 and "ký tự NUL" in page.text and "Traceback" not in page.text
    r = await http.get("/cases?plan=tra-vinh-2025", headers=police)  # the same, without it
    assert r.status_code == 200
    # A stranger learns only that a token is needed, as for any other bad input.
    r = await http.get("/cases?plan=tra%00vinh")
    assert r.status_code == 401 and "NUL" not in r.text
    assert await store.pool.fetchval("SELECT count(*) FROM events") == before
    # The schema says so: a text parameter carries the pattern (schemathesis then generates
    # NUL only as invalid input).
    spec = (await http.get("/openapi.json")).json()
    listing = {p["name"]: p["schema"] for p in spec["paths"]["/cases"]["get"]["parameters"]}
    assert any(option.get("pattern") == "^[^\\u0000]*$"
               for option in listing["plan"].get("anyOf", [listing["plan"]]))
