"""Sơn La's action month 2023 (004, the shipped plan ``son-la-action-month-2023``) through the
HTTP API (issue 13) over the real workflows: the provincial police opens the round; a
department and districts report (each unit's people only, their values checked against the
form); one is sent back and corrected; after the due day the police consolidates and the
provincial People's Committee approves; the consolidated report downloads as a .docx whose
table holds the consolidated values, and as a CSV; the programme view lists the year."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from docx import Document

import catalog
from api.app import create_app
from domain.clock import PlanClock, rehearsal_shift
from domain.reporting import ReportingPlan, ReportingUnit, reporting_units, reports
from domain.roles import Actor
from runtime.temporal import skip_until
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import SIGNER
from tests.workflows.test_api import ISSUER, bearer, code_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "son-la-action-month-2023"
ROUND = "action-month-2023"


def values_for(plan: ReportingPlan, unit: ReportingUnit, n: int) -> dict[str, Any]:
    """A full report of ``unit``: every indicator it reports, counts ``n``."""
    form = plan.form(plan.round(ROUND).form)
    out: dict[str, Any] = {}
    for i in form.indicators:
        if reports(i, unit):
            out[i.id] = True if i.type == "boolean" else (n if i.type == "count" else 1.5)
    return out


SECTIONS = {"results": "Đã tổ chức các hoạt động hưởng ứng.",
            "shortcomings": "Nguồn lực còn hạn chế."}


async def test_the_action_month_through_the_api(temporal: Any, worker: str, store: Any) -> None:
    client, env = temporal
    plan = catalog.reporting_plan(PLAN)
    clock = PlanClock(shift_years=rehearsal_shift(plan, plan.local_date(  # type: ignore[arg-type]
        await env.get_current_time())))
    service = CaseService(client, worker, store, signer=SIGNER, clock=env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()), clock_for=lambda _: clock)
    units = {u.id: u for u in reporting_units(plan)}
    police = Actor(person_id="p-ca", role="province_police", province_code="14", unit="police")
    ubnd = Actor(person_id="p-ub", role="province_ubnd", province_code="14")
    health = Actor(person_id="p-yt", role="province_department", province_code="14",
                   unit="health")
    labour = Actor(person_id="p-ld", role="province_department", province_code="14",
                   unit="labour")

    def district(code: str) -> Actor:
        return Actor(person_id=f"p-{code}", role="district_ubnd", province_code="14",
                     district_code=code)

    async def at(day: date) -> None:
        await skip_until(env, clock.day_start(plan, day) + timedelta(hours=9))  # type: ignore[arg-type]

    base = f"/rounds/{PLAN}/{ROUND}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        listed = (await http.get("/reporting-plans", headers=bearer(police))).json()
        mine = next(p for p in listed if p["id"] == PLAN)
        assert len(mine["units"]) == len(units) == 25
        assert (await http.post(base)).status_code == 401
        await at(date(2023, 6, 1))
        r = await http.post(base, headers=bearer(district("116")))
        assert r.status_code == 403 and code_of(r) == "round.wrong_role"
        r = await http.post(f"{base}/attachments", params={"name": "som.txt"}, content=b"x",
                            headers=bearer(police))
        assert r.status_code == 404 and code_of(r) == "round.not_found"  # not opened yet
        r = await http.post(base, headers=bearer(police))
        assert r.status_code == 201, r.text

        async def submit(who: Actor, unit: str, values: dict[str, Any],
                         attachments: list[dict[str, str]] | None = None) -> httpx.Response:
            return await http.post(f"{base}/reports", headers=bearer(who), json={
                "unit": unit, "values": values, "sections": SECTIONS,
                "attachments": attachments or []})

        r = await submit(labour, "health", values_for(plan, units["health"], 3))
        assert r.status_code == 403 and code_of(r) == "round.wrong_unit"
        bad = {**values_for(plan, units["health"], 3), "propaganda_sessions": "ba"}
        r = await submit(health, "health", bad)
        assert r.status_code == 422 and code_of(r) == "report.bad_value"
        assert "propaganda_sessions" in r.json()["message_vi"]
        # the health department's report with a file: uploaded to the round, then named
        minutes = "Biên bản ra quân tháng hành động.".encode()
        r = await http.post(f"{base}/attachments", params={"name": "bien-ban-ra-quan.txt"},
                            content=minutes, headers={**bearer(health),
                                                      "Content-Type": "text/plain"})
        assert r.status_code == 201, r.text
        uploaded = r.json()
        assert uploaded["size"] == len(minutes) and uploaded["name"] == "bien-ban-ra-quan.txt"
        stranger = Actor(person_id="p-xa", role="commune_ubnd", province_code="01",
                         district_code="001", commune_code="00001")
        r = await http.post(f"{base}/attachments", params={"name": "x.txt"}, content=b"x",
                            headers=bearer(stranger))
        assert r.status_code == 403, r.text
        r = await http.post(f"{base}/attachments", params={"name": "rong.txt"}, content=b"",
                            headers=bearer(health))
        assert r.status_code == 422 and code_of(r) == "attachment.empty"
        recorded = len(await store.read(f"round:{PLAN}:{ROUND}"))
        r = await submit(health, "health", values_for(plan, units["health"], 3),
                         [{"name": "khac.pdf", "sha256": "ab" * 32}])
        assert r.status_code == 422 and code_of(r) == "attachment.unknown"
        assert "ab" * 32 in r.json()["message_vi"]
        assert len(await store.read(f"round:{PLAN}:{ROUND}")) == recorded
        r = await submit(health, "health", values_for(plan, units["health"], 3),
                         [{"name": "Biên bản ra quân.txt", "sha256": uploaded["sha256"]}])
        assert r.status_code == 200, r.text
        sent = [e.payload for e in await store.read(f"round:{PLAN}:{ROUND}")
                if e.type == "unit_report.submitted"]
        assert sent[-1]["attachments"] == [{"name": "Biên bản ra quân.txt",
                                            "sha256": uploaded["sha256"], "size": len(minutes)}]
        r = await http.get(f"{base}/attachments/{uploaded['sha256']}", headers=bearer(ubnd))
        assert r.status_code == 200 and r.content == minutes
        assert r.headers["content-type"].startswith("text/plain")
        assert "attachment" in r.headers["content-disposition"]
        r = await http.get(f"{base}/attachments/{'cd' * 32}", headers=bearer(ubnd))
        assert r.status_code == 404
        # a round's upload is bounded by the file's bound, not the (smaller) body's
        small = create_app(service, Authenticator(ISSUER.ring()), clock_for=lambda _: clock,
                           max_body=1000, max_attachment=3000)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small),
                                     base_url="http://api") as bounded:
            for size, answer in ((2000, 201), (4000, 413)):
                r = await bounded.post(f"{base}/attachments", params={"name": "anh.jpg"},
                                       content=b"j" * size, headers=bearer(health))
                assert r.status_code == answer, r.text
        for n, code in enumerate(("116", "118", "119"), start=1):
            r = await submit(district(code), f"district-{code}",
                             values_for(plan, units[f"district-{code}"], 10 * n))
            assert r.status_code == 200, r.text
        r = await http.post(f"{base}/returns", headers=bearer(police),
                            json={"unit": "district-119", "reason": "số liệu chưa khớp"})
        assert r.status_code == 200, r.text
        r = await submit(district("119"), "district-119",
                         values_for(plan, units["district-119"], 5))
        assert r.status_code == 200
        r = await http.post(f"{base}/decisions", headers=bearer(police),
                            json={"kind": "consolidate"})
        assert r.status_code == 422 and code_of(r) == "round.reports_owed"

        await at(date(2023, 7, 5))
        r = await http.post(f"{base}/decisions", headers=bearer(police),
                            json={"kind": "consolidate"})
        assert r.status_code == 200, r.text
        status = (await http.get(base, headers=bearer(ubnd))).json()
        table = status["consolidation"]
        sessions = next(x for x in table["indicators"] if x["id"] == "propaganda_sessions")
        # health 3 + district 116: 10 + district 118: 20 + district 119 corrected: 5 = 38
        assert sessions["value"] == 38.0
        assert len(table["units_reported"]) == 4 and len(table["units_missing"]) == 21
        assert {"health", "district-128"} & set(status["missed"]) == {"district-128"}

        r = await http.get(f"{base}/report.docx", headers=bearer(ubnd))
        assert r.status_code == 200
        doc = Document(io.BytesIO(r.content))
        cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
        assert any("38" in c for c in cells), cells[:40]
        r = await http.get(f"{base}/report.csv", headers=bearer(ubnd))
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert any(row[1] == "propaganda_sessions" and float(row[4]) == 38.0 for row in rows[1:])

        # an auditor reads the round: the read is recorded first, in the auditor's own stream
        auditor = Actor(person_id="p-tt", role="auditor", province_code="14")
        assert (await http.get(base, headers=bearer(auditor))).status_code == 200
        looked = [e.payload for e in await store.read("audit-reads:14:p-tt")]
        assert [(x["operation"], x["target"]) for x in looked] == [
            ("round_status", f"round:{PLAN}:{ROUND}")]
        r = await http.get(f"{base}/attachments/{uploaded['sha256']}", headers=bearer(auditor))
        assert r.status_code == 200 and r.content == minutes
        looked = [e.payload for e in await store.read("audit-reads:14:p-tt")]
        assert looked[-1]["operation"] == "round_attachment"
        outsider = Actor(person_id="p-x", role="province_ubnd", province_code="01")
        assert (await http.get(base, headers=bearer(outsider))).status_code == 403
        r = await http.get(f"{base}/attachments/{uploaded['sha256']}", headers=bearer(outsider))
        assert r.status_code == 403
        r = await http.post(f"{base}/decisions", headers=bearer(ubnd),
                            json={"kind": "approve", "reason": "Đồng ý"})
        assert r.status_code == 200, r.text
        programme = (await http.get(f"/programmes/{PLAN}", headers=bearer(ubnd))).json()
        assert programme["years"] == [2023] and programme["latest_round"] == ROUND
        trail = [e["type"] for e in (await http.get(f"{base}/history",
                                                     headers=bearer(ubnd))).json()]
        assert trail[0] == "round.opened" and "round.approved" in trail
    assert (await store.verify(f"round:{PLAN}:{ROUND}")).ok
