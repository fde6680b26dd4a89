"""The auditor's HTTP endpoints (issue 11): a case's chain verified, a kept checkpoint held
against the log (consistent, then not once the record is rewritten), an inclusion proof; only
auditors, in their province; and every audit read recorded as an event before its answer.
Commune 29302 is this module's only."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from domain.identity import Signer
from domain.merkle import verify_inclusion
from domain.plan import plan_hash
from domain.roles import Actor
from eventstore.store import EventStore
from eventstore.urls import app_url
from service import CaseService
from service import export as exports
from service.access import Authenticator
from service.audit import Audit, verifier_of
from service.audit_reads import stream_of
from tests.workflows.support import SIGNER, Case
from tests.workflows.test_api import ISSUER, bearer, code_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHECKPOINTS = Signer.from_seed(bytes(range(100, 132)))


@pytest_asyncio.fixture(loop_scope="session")
async def api(make_case: Any, store: Any, monkeypatch: pytest.MonkeyPatch
              ) -> AsyncIterator[tuple[httpx.AsyncClient, Case]]:
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_VKEY", verifier_of(CHECKPOINTS))
    case: Case = await make_case("tra-vinh-2025", "29302")
    case.service = CaseService(case.client, case.tq, store, signer=SIGNER,
                               clock=case.env.get_current_time)
    app = create_app(case.service, Authenticator(ISSUER.ring()))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        yield http, case


async def test_auditors_verify_prove_and_are_recorded(
        api: tuple[httpx.AsyncClient, Case], store: Any, case_db: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "checkpoint.pem"
    key.write_bytes(CHECKPOINTS.pem())
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_KEY", str(key))
    http, case = api
    await case.start()
    await case.select()
    await case.withdraw("kết thúc thử nghiệm")  # the case ends: its record is complete
    await (await case.service.handle_for_result(case.id)).result()
    auditor = case.actor("auditor")
    log = stream_of(auditor)

    async def recorded() -> list[dict[str, Any]]:
        try:
            return [e.payload for e in await store.read(log)]
        except Exception:  # noqa: BLE001 - no stream yet: nothing recorded
            return []

    # only auditors, and only in their province
    r = await http.get(f"/audit/cases/{case.id}/verify", headers=bearer(
        case.actor("province_police")))
    assert r.status_code == 403 and code_of(r) == "audit.auditors_only"
    elsewhere = Actor(person_id="a-38", role="auditor", province_code="38")
    r = await http.get(f"/audit/cases/{case.id}/verify", headers=bearer(elsewhere))
    assert r.status_code == 403 and code_of(r) == "case.wrong_jurisdiction"
    assert await recorded() == []  # a refused read is not a read

    r = await http.get(f"/audit/cases/{case.id}/verify", headers=bearer(auditor))
    assert r.status_code == 200, r.text
    events = len(await store.read(case.id))
    assert r.json() == {"case_id": case.id, "events": events, "intact": True, "broken": None}
    assert (await http.get(f"/cases/{case.id}/history", headers=bearer(auditor))
            ).status_code == 200
    seen = await recorded()
    assert [(e["operation"], e["target"], e["interface"]) for e in seen] == [
        ("verify", case.id, "api"), ("history", case.id, "api")]
    assert seen[0]["reader"] == auditor.person_id and seen[0]["role"] == "auditor"

    # a checkpoint kept by the auditor: consistent, and the case's first event is in it
    note = await Audit(store).checkpoint(CHECKPOINTS, datetime.now(UTC))
    r = await http.post("/audit/consistency", json={"checkpoint": note},
                        headers=bearer(auditor))
    assert r.status_code == 200 and r.json()["consistent"] is True, r.text
    r = await http.post("/audit/inclusion", headers=bearer(auditor), json={
        "case_id": case.id, "version": 1, "checkpoint": note})
    assert r.status_code == 200, r.text
    p = r.json()
    verify_inclusion(p["leaf_index"], p["tree_size"], base64.b64decode(p["leaf_hash"]),
                     [base64.b64decode(h) for h in p["proof"]], base64.b64decode(p["root"]))
    # the case replayed (now, and before it was selected), crosschecked, exported
    r = await http.get(f"/audit/cases/{case.id}/replay", headers=bearer(auditor))
    assert r.status_code == 200 and r.json()["outcome"] == "withdrawn", r.text
    # the version the case opened under names it, and is the version it ran on to the end
    ran_on = plan_hash(case.plan)
    assert (r.json()["plan_at_opening"], r.json()["plan_hash"], r.json()["named_by"]) == \
        (ran_on, ran_on, ran_on)
    selected_at = next(e.recorded_at for e in await store.read(case.id)
                       if e.type == "selection.approved")
    before = (selected_at - timedelta(microseconds=1)).isoformat()
    r = await http.get(f"/audit/cases/{case.id}/replay", params={"at": before},
                       headers=bearer(auditor))
    assert r.status_code == 200 and r.json()["outcome"] is None, r.text
    assert r.json()["version"] < events
    r = await http.get(f"/audit/cases/{case.id}/crosscheck", headers=bearer(auditor))
    assert r.status_code == 200 and r.json()["agrees"] is True, r.text
    r = await http.get(f"/audit/cases/{case.id}/export", headers=bearer(auditor))
    assert r.status_code == 200, r.text
    exported = tmp_path / "case.jsonl"
    exported.write_bytes(r.content)
    report = exports.verify_file(exported)
    assert report.broken is None and report.events == events, report

    forged = note.replace("\n\n", "\nextra line\n\n", 1)
    r = await http.post("/audit/consistency", json={"checkpoint": forged},
                        headers=bearer(auditor))
    assert r.status_code == 422 and code_of(r).startswith("checkpoint.")

    # the record rewritten by a database administrator: the kept checkpoint says so
    admin = await asyncpg.connect(case_db)
    try:
        await rewrite_case_end(admin, case.id)
    finally:
        await admin.close()
    r = await http.post("/audit/consistency", json={"checkpoint": note},
                        headers=bearer(auditor))
    body = r.json()
    assert r.status_code == 200 and body["consistent"] is False, body
    assert body["code"] == "audit.rewritten" and "viết lại" in body["message_vi"]
    operations = [e["operation"] for e in await recorded()]
    assert operations == ["verify", "history", "consistency", "inclusion", "replay", "replay",
                          "crosscheck", "export", "consistency", "consistency"]


async def rewrite_case_end(admin: asyncpg.Connection, stream: str) -> None:
    """Edit the case's last event (its close) with its hash recomputed: no chain link shows
    it (the same edit as tests/eventstore/test_transparency.py, on a case's real record)."""
    row = await admin.fetchrow("SELECT position, canonical FROM events WHERE stream = $1 "
                               "ORDER BY version DESC LIMIT 1", stream)
    assert b'"outcome":"withdrawn"' in row["canonical"]
    forged = row["canonical"].replace(b'"outcome":"withdrawn"', b'"outcome":"recognised"')
    from eventstore.canonical import event_hash

    async with admin.transaction():
        await admin.execute("SET LOCAL session_replication_role = replica")
        await admin.execute(
            "UPDATE events SET canonical = $2, hash = $3, "
            "payload = jsonb_set(payload, '{outcome}', '\"recognised\"') WHERE position = $1",
            row["position"], forged, event_hash(forged))





async def test_a_database_gone_is_a_503_that_names_it(api: tuple[httpx.AsyncClient, Case],
                                                      case_db: str) -> None:
    """The API's store loses its database (here: its pool closed under it): reads and
    recorded reads answer 503 naming the database, in both languages, never a 500."""
    _, case = api
    gone = await EventStore.connect(app_url(case_db), max_size=1)
    service = CaseService(case.client, case.tq, gone, signer=SIGNER,
                          clock=case.env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()))
    await gone.close()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        for path in (f"/cases/{case.id}/history", "/plans"):
            r = await http.get(path, headers=bearer(case.actor("auditor")))
            assert r.status_code == 503, (path, r.status_code, r.text)
            assert code_of(r) == "service.database_unavailable"
            assert "cơ sở dữ liệu" in r.json()["message_vi"] and r.headers["Retry-After"]
