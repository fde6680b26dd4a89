"""Publishing plans (issue 9): stored versions, who may publish, and cases that start with a
published plan the catalogue's files do not have, admitted by the real workers and followed by
the read model."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import catalog
from api.app import create_app
from domain.plan import Plan, plan_hash
from domain.roles import Actor
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, SIGNER, Case
from tests.workflows.test_api import ISSUER, bearer, code_of
from tests.workflows.test_trust_attacks import history_inputs

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "tra-vinh-2025"
PLAN = "tra-vinh-2025-sua-doi"  # a province's own amended copy, published through the API
COMMUNE = "29482"  # district 850; used by no other test


def amended(title: str) -> dict[str, Any]:
    """The shipped plan under a new id and title, with its sets embedded (as a province that
    edits its own plan would send it)."""
    doc = copy.deepcopy(catalog.get_plan(BASE).model_dump(mode="json"))
    doc["id"], doc["title_vi"] = PLAN, title
    return doc


@pytest_asyncio.fixture(loop_scope="session")
async def api(make_case: Any, store: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Case]]:
    case: Case = await make_case(BASE, COMMUNE)  # for its clock and actors
    service = CaseService(case.client, case.tq, store, signer=SIGNER,
                          clock=case.env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()), clock_for=lambda _: case.clock)
    case.service = service
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        yield http, case


async def test_a_published_plan_gets_versions_and_runs_cases(
        api: tuple[httpx.AsyncClient, Case], store: Any) -> None:
    http, case = api
    ubnd = case.actor("province_ubnd")
    # the catalogue's files are versions already, numbered, with their content hash
    listed = (await http.get("/plans", headers=bearer(ubnd))).json()
    shipped = {p["id"]: p for p in listed}
    assert shipped[BASE]["version"] >= 1 and shipped[BASE]["source"] == "catalogue"
    assert shipped[BASE]["content_hash"] == plan_hash(catalog.get_plan(BASE))
    assert PLAN not in shipped

    # only the plan's issuer (the provincial People's Committee of its province) publishes
    doc = amended("Kế hoạch sửa đổi (bản 1)")
    r = await http.post("/plans", json=doc, headers=bearer(case.actor("district_ubnd")))
    assert r.status_code == 403 and code_of(r) == "plan.wrong_role"
    elsewhere = Actor(person_id="p-38", role="province_ubnd", province_code="38")
    r = await http.post("/plans", json=doc, headers=bearer(elsewhere))
    assert r.status_code == 403 and code_of(r) == "plan.wrong_jurisdiction"
    r = await http.post("/plans", json=doc, headers=bearer(case.actor("auditor")))
    assert r.status_code == 403 and code_of(r) == "access.read_only"
    broken = {**doc, "phases": []}
    r = await http.post("/plans", json=broken, headers=bearer(ubnd))
    assert r.status_code == 422 and code_of(r) == "plan.invalid" and "phases" in r.text

    r = await http.post("/plans", json=doc, headers=bearer(ubnd))
    assert r.status_code == 201, r.text
    v1 = r.json()
    assert (v1["id"], v1["version"], v1["source"]) == (PLAN, 1, "published")
    assert v1["published_by"]["person_id"] == ubnd.person_id
    again = await http.post("/plans", json=doc, headers=bearer(ubnd))  # same content
    assert again.status_code == 200 and again.json()["version"] == 1
    # a version cannot move the plan to another province (its cases are named by it)
    moved = {**amended("Chuyển tỉnh"), "province_code": "38"}
    r = await http.post("/plans", json=moved, headers=bearer(elsewhere))
    assert r.status_code == 422 and code_of(r) == "plan.territory_changed"

    # a case starts with the published plan: the worker admits it (not in its files)
    district, police = case.actor("district_ubnd"), case.actor("province_police")
    r = await http.post("/cases", headers=bearer(district), json={
        "plan_id": PLAN, "commune_code": COMMUNE, "baseline": BASELINE})
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    assert case_id == f"conversion:{PLAN}:{COMMUNE}"
    # the read model knows its roles: the selection waits in the police's inbox
    for _ in range(100):
        box = (await http.get("/inbox", headers=bearer(police))).json()
        if any(i["case_id"] == case_id and i["kind"] == "selection" for i in box["items"]):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the published plan's case never reached the inbox: {box}")

    # version 2: new cases would start with it; the running case keeps version 1
    r = await http.post("/plans", json=amended("Kế hoạch sửa đổi (bản 2)"), headers=bearer(ubnd))
    assert r.status_code == 201 and r.json()["version"] == 2
    versions = (await http.get("/plans?all_versions=true", headers=bearer(ubnd))).json()
    assert [p["version"] for p in versions if p["id"] == PLAN] == [1, 2]
    newest = [p for p in (await http.get("/plans", headers=bearer(ubnd))).json()
              if p["id"] == PLAN]
    assert [p["version"] for p in newest] == [2]
    start, _ = await history_inputs(case.client, case_id)
    assert start["plan"]["title_vi"] == "Kế hoạch sửa đổi (bản 1)"
    assert plan_hash(Plan.model_validate(start["plan"])) == v1["content_hash"]
    handle = await case.service.handle_for_result(case_id)

    # the case ends (withdrawn by the district): nothing is left running
    r = await http.post(f"/cases/{case_id}/withdrawal", headers=bearer(district),
                        json={"reason": "thử nghiệm kết thúc"})
    assert r.status_code == 200, r.text
    await handle.result()
    types = [e.type for e in await store.read(case_id)]
    assert types[0] == "case.opened" and types[-1] == "case.closed"


async def test_an_amendment_through_the_api(
        make_case: Any, store: Any) -> None:
    """POST /plans/{plan}/amendments: for the plan's issuer only, a bad document named; the
    dry run says what would change for each running case and writes nothing; the real run
    schedules it in the case (before its effective date), and again changes nothing."""
    import yaml

    case: Case = await make_case(BASE, "29308")  # district 849; used by no other test
    service = CaseService(case.client, case.tq, store, signer=SIGNER,
                          clock=case.env.get_current_time)
    case.service = service
    app = create_app(service, Authenticator(ISSUER.ring()), clock_for=lambda _: case.clock)
    reform = json.loads(json.dumps(yaml.safe_load(
        (Path(catalog.__file__).parent.parent / "domain" / "amendments" /
         "tra-vinh-2025-reform.yaml").read_text(encoding="utf-8")), default=str))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        await case.start()
        url = f"/plans/{BASE}/amendments"
        for _ in range(100):  # the read model lists the running case within moments
            if [r for r in await service.list_cases(BASE) if r.stream == case.id]:
                break
            await asyncio.sleep(0.1)
        before = len(await store.read(case.id))
        r = await http.post(url, json=reform, params={"dry_run": "true"},
                            headers=bearer(case.actor("district_ubnd")))
        assert r.status_code == 403 and code_of(r) == "amendment.wrong_role"
        r = await http.post(url, json={**reform, "effective_on": "not a date"},
                            params={"dry_run": "true"},
                            headers=bearer(case.actor("province_ubnd")))
        assert r.status_code == 422 and code_of(r) == "amendment.invalid"
        assert "effective_on" in r.json()["message_en"]
        r = await http.post(url, json=reform, params={"dry_run": "true"},
                            headers=bearer(case.actor("province_ubnd")))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["dry_run"] is True and answer["plans"][BASE]["province_code"] == "86"
        assert [c["case_id"] for c in answer["cases"]] == [case.id], answer["cases"]
        assert len(await store.read(case.id)) == before  # nothing written
        # the real run: before 1 July the case keeps the amendment on a timer; again: no-op
        r = await http.post(url, json=reform, headers=bearer(case.actor("province_ubnd")))
        assert r.status_code == 200, r.text
        assert r.json()["dry_run"] is False and r.json()["counts"] == {"scheduled": 1}
        [one] = r.json()["cases"]
        assert one["case_id"] == case.id and one["record"] is None
        assert one["effect"]["codes"]["province_after"] == "86"
        r = await http.post(url, json=reform, headers=bearer(case.actor("province_ubnd")))
        assert r.json()["counts"] == {"already_scheduled": 1}
        assert len(await store.read(case.id)) == before
        await case.withdraw("kết thúc thử nghiệm")
        await (await service.handle_for_result(case.id)).result()
