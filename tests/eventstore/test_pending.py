"""Pending decisions (the inbox's read model): a pure fold of a case's events with the plan,
kept by the projector in the same pass as case_status, rebuilt with the same rows, and read
by role and jurisdiction, oldest deadline first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from catalog import get_plan
from domain.events import (
    CaseClosed,
    CaseOpened,
    DeadlineMissed,
    DossierSubmitted,
    Event,
    LevelApproved,
    LevelRejected,
    ReportSubmitted,
    SelectionApproved,
    SignoffRecorded,
    VoteCast,
)
from domain.plan import ApprovalLevel, Plan
from domain.roles import Actor
from eventstore import EventStore, NewEvent, Projector
from eventstore.pending import PendingDecision, Rows, apply_pending
from eventstore.projection import apply
from eventstore.records import RecordedEvent
from service.readmodel import read_cases, read_inbox

PLAN = get_plan("tra-vinh-2025")
# 10:00 on 2 Nov 2025 in Viet Nam
AT = datetime(2025, 11, 2, 3, 0, tzinfo=UTC)
STREAM = "conversion:tra-vinh-2025:29536"


def opened(commune: str = "29536", district: str = "850",
           plan_id: str = "tra-vinh-2025") -> CaseOpened:
    return CaseOpened(plan_id=plan_id, commune_code=commune, district_code=district,
                      province_code="84", opened_by="p-1", opened_by_role="district_ubnd")


def signed(level: str, role: str) -> SignoffRecorded:
    return SignoffRecorded(round=1, level=level, reviewer=f"p-{role}", role=role)


def recorded(events: Sequence[Event | NewEvent], stream: str = STREAM,
             at: datetime = AT) -> list[RecordedEvent]:
    out = []
    for i, e in enumerate(events, start=1):
        kind, sv, payload = ((e.type, e.schema_version, e.payload) if isinstance(e, NewEvent)
                             else (e.TYPE, e.SCHEMA_VERSION, e.payload()))
        out.append(RecordedEvent(i * 10, stream, i, f"e{i}", kind, sv, at, payload, b"", b""))
    return out


def fold(events: Sequence[Event | NewEvent], plan: Plan | None = PLAN,
         at: datetime = AT, stream: str = STREAM) -> Rows:
    status, rows = None, {}
    for e in recorded(events, stream, at):
        status = apply(status, e)
        rows = apply_pending(rows, status, e, plan)
    return rows


def keys(rows: Rows) -> set[tuple[str, str, str]]:
    return set(rows)


def test_selection_is_awaited_from_the_police_until_decided() -> None:
    rows = fold([opened()])
    assert list(rows.values()) == [PendingDecision(
        stream=STREAM, kind="selection", subject="selection", role="province_police",
        plan_id="tra-vinh-2025", province_code="84", district_code="850",
        commune_code="29536", round=None, members=[], since=date(2025, 11, 2),
        due=date(2025, 3, 29), position=10)]
    # the deadline passing does not decide it: still awaited, now overdue
    assert keys(fold([opened(), DeadlineMissed(deadline_id="selection",
                                               due=date(2025, 3, 29))])) == keys(rows)


def test_after_selection_the_commune_owes_its_reports_and_dossier() -> None:
    rows = fold([opened(), SelectionApproved(decided_by="p-2", role="province_police")])
    assert {(k, s) for k, s, _ in rows} == {
        ("report", "implementation_plan"), ("report", "phase_1_report"),
        ("report", "forum_q2"), ("report", "forum_q3"), ("report", "phase_2_report"),
        ("report", "phase_3_report"), ("dossier", "dossier")}
    assert {r.role for r in rows.values()} == {"commune_ubnd"}
    assert rows[("report", "forum_q2", "commune_ubnd")].due == date(2025, 6, 30)
    late = ReportSubmitted(deadline_id="forum_q2", submitted_by="p-3", role="commune_ubnd",
                           late=True)
    # a dossier whose criteria were not met stays owed: only the chain's entry settles it
    dossier = ReportSubmitted(deadline_id="dossier", submitted_by="p-3", role="commune_ubnd",
                              late=False)
    after = fold([opened(), SelectionApproved(decided_by="p-2", role="province_police"), late,
                  dossier])
    assert keys(rows) - keys(after) == {("report", "forum_q2", "commune_ubnd")}


def chain_events() -> list[Event | NewEvent]:
    return [opened(), SelectionApproved(decided_by="p-2", role="province_police"),
            DossierSubmitted(round=1, submitted_by="p-3", role="commune_ubnd",
                             first_level="district_appraisal")]


def levels(rows: Rows) -> dict[str, tuple[str, date, date]]:
    return {r.role: (r.subject, r.since, r.due) for r in rows.values() if r.kind == "level"}


def test_a_level_awaits_each_role_not_yet_signed_due_its_days_later() -> None:
    day, due = date(2025, 11, 2), date(2025, 11, 7)  # district levels: 5 days
    rows = fold(chain_events())
    assert levels(rows) == {r: ("district_appraisal", day, due)
                            for r in ("district_police", "district_labour", "district_health")}
    assert ("dossier", "dossier", "commune_ubnd") not in rows
    rows = fold([*chain_events(), signed("district_appraisal", "district_police")])
    assert set(levels(rows)) == {"district_labour", "district_health"}
    rows = fold([*chain_events(), signed("district_appraisal", "district_police"),
                 signed("district_appraisal", "district_labour"),
                 signed("district_appraisal", "district_health"),
                 LevelApproved(round=1, level="district_appraisal",
                               next_level="district_review")])
    assert levels(rows) == {"district_ubnd": ("district_review", day, due)}
    assert {r.round for r in rows.values() if r.kind == "level"} == {1}


def test_a_level_pending_since_an_evening_is_due_from_the_local_date() -> None:
    evening = datetime(2025, 11, 2, 18, 30, tzinfo=UTC)  # 01:30 on 3 Nov in Viet Nam
    rows = fold(chain_events(), at=evening)
    assert {(r.since, r.due) for r in rows.values() if r.kind == "level"} == {
        (date(2025, 11, 3), date(2025, 11, 8))}


def test_a_rejection_returns_the_dossier_and_a_resubmission_restarts_the_chain() -> None:
    rejected = [*chain_events(),
                LevelRejected(round=1, level="district_appraisal", reviewer="p-4",
                              role="district_police", reason="thiếu biên bản")]
    rows = fold(rejected)
    assert [k for k in rows if k[0] != "report"] == [("dossier", "dossier", "commune_ubnd")]
    assert rows[("dossier", "dossier", "commune_ubnd")].due == PLAN.ends_on
    # a v1 resubmission names no level: a round starts at the chain's first
    v1 = NewEvent("x", "dossier.resubmitted", 1, {"round": 2, "submitted_by": "p-3",
                                                  "role": "commune_ubnd"})
    rows = fold([*rejected, v1])
    assert {r.subject for r in rows.values() if r.kind != "report"} == {"district_appraisal"}
    assert {r.round for r in rows.values() if r.kind == "level"} == {2}


def test_nothing_is_pending_once_closed_or_without_a_known_plan() -> None:
    events = [*chain_events(), LevelApproved(round=1, level="district_appraisal",
                                             next_level=None),
              NewEvent("x", "recognition.granted", 1, {"round": 1, "decided_by": "p-9"})]
    assert fold(events) == {}
    assert fold([opened(), CaseClosed(outcome="withdrawn")]) == {}
    assert fold([opened(plan_id="no-such-plan")], plan=None) == {}
    assert fold([SelectionApproved(decided_by="p", role="province_police")]) == {}


def quorum_plan() -> Plan:
    council = ApprovalLevel(id="council", name_vi="Hội đồng", name_en="Council",
                            roles=["province_council"], deadline_days=10,
                            escalate_to="province_ubnd", rule="quorum",
                            members=["m-1", "m-2", "m-3"], quorum=2)
    return PLAN.model_copy(update={"approval_chain": [council]})


def test_a_council_awaits_the_members_who_have_not_voted() -> None:
    plan = quorum_plan()
    submitted = [opened(), SelectionApproved(decided_by="p-2", role="province_police"),
                 DossierSubmitted(round=1, submitted_by="p-3", role="commune_ubnd",
                                  first_level="council")]
    rows = fold(submitted, plan)
    [row] = [r for r in rows.values() if r.kind == "level"]
    assert (row.role, row.members, row.due) == ("province_council", ["m-1", "m-2", "m-3"],
                                                date(2025, 11, 12))
    rows = fold([*submitted, VoteCast(round=1, level="council", reviewer="m-2",
                                      role="province_council", vote="reject", reason="x")],
                plan)
    [row] = [r for r in rows.values() if r.kind == "level"]
    assert row.members == ["m-1", "m-3"]


# -- in the database ------------------------------------------------------------------------


async def _append(store: EventStore, stream: str, events: Sequence[Event | NewEvent],
                  start: int = 0) -> None:
    await store.append(stream, start, [
        NewEvent(f"{stream}:{start + i}", e.type, e.schema_version, e.payload)
        if isinstance(e, NewEvent) else NewEvent.of(f"{stream}:{start + i}", e)
        for i, e in enumerate(events)])


async def _pending(store: EventStore) -> list[dict[str, Any]]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM pending_decisions "
                                "ORDER BY stream, kind, subject, role")
    return [dict(r) for r in rows]


def actor(role: str, district: str | None = None, commune: str | None = None,
          person: str | None = None) -> Actor:
    return Actor.model_validate({"person_id": person or f"p-{role}", "role": role,
                                 "province_code": "84", "district_code": district,
                                 "commune_code": commune})


async def test_the_follower_the_rebuild_and_the_fold_agree(fresh_database: Any) -> None:
    async with await EventStore.connect(fresh_database.app_url) as store:
        a, b = "conversion:tra-vinh-2025:29536", "conversion:tra-vinh-2025:29539"
        await _append(store, a, chain_events())
        await _append(store, b, [opened("29539", "851")])
        projector = Projector(store, batch=2)  # batches that split a stream's events
        assert await projector.catch_up() == 4
        await _append(store, a, [signed("district_appraisal", "district_police")], start=3)
        assert await projector.catch_up() == 1
        live = await _pending(store)

        expected = [*fold([*chain_events(), signed("district_appraisal", "district_police")],
                          stream=a).values(),
                    *fold([opened("29539", "851")], stream=b).values()]
        # the same rows but for positions and dates, which the database assigned
        assert {(r["stream"], r["kind"], r["subject"], r["role"], r["due"]) for r in live
                if r["kind"] != "level"} == {(r.stream, r.kind, r.subject, r.role, r.due)
                                            for r in expected if r.kind != "level"}
        assert {(r["stream"], r["subject"], r["role"]) for r in live if r["kind"] == "level"} \
            == {(r.stream, r.subject, r.role) for r in expected if r.kind == "level"}

        # as the owner (drugfree db rebuild-projections), the same rows
        async with await EventStore.connect(fresh_database.admin_url) as owner:
            assert await Projector(owner).rebuild() == 2
        assert await _pending(store) == live
        assert await projector.run_once() == 0

        # the inbox reads them as the application role, by role and jurisdiction
        today = date(2025, 11, 4)
        police_850 = await read_inbox(store, actor("district_labour", "850"), today=today)
        assert [(i.case_id, i.subject, i.overdue) for i in police_850.items] == [
            (a, "district_appraisal", False)]
        assert (await read_inbox(store, actor("district_labour", "851"), today=today)).total == 0
        assert (await read_inbox(store, actor("district_police", "850"), today=today)).total == 0
        selection = await read_inbox(store, actor("province_police"), today=today)
        assert [(i.case_id, i.kind, i.overdue) for i in selection.items] == [
            (b, "selection", True)]
        overdue = await read_inbox(store, actor("province_police"), overdue=True, today=today)
        assert overdue.total == 1
        # a level is due its days after the day it became pending (here: today, for real)
        [level] = police_850.items
        assert level.due == level.since + timedelta(days=5)
        for day, late in ((level.due, 0), (level.due + timedelta(days=1), 1)):
            assert (await read_inbox(store, actor("district_labour", "850"), overdue=True,
                                     today=day)).total == late
        # the commune sees what it owes, the auditor sees everything in the province
        commune = await read_inbox(store, actor("commune_ubnd", "851", "29539"), today=today)
        assert commune.total == 0
        auditor = await read_inbox(store, actor("auditor"), today=today)
        assert auditor.total == len(live)

        # case lists read case_status, filtered
        rows = await read_cases(store, "tra-vinh-2025")
        assert [r.stream for r in rows] == [a, b]
        assert [r.stream for r in await read_cases(store, "tra-vinh-2025",
                                                   district_code="851")] == [b]
        assert [r.stream for r in await read_cases(store, "tra-vinh-2025",
                                                   state="in_recognition")] == [a]


async def test_the_inbox_pages_oldest_deadline_first(fresh_database: Any) -> None:
    admin = await asyncpg.connect(fresh_database.admin_url)
    try:
        await admin.executemany(
            "INSERT INTO pending_decisions (stream, kind, subject, role, plan_id, "
            "province_code, district_code, commune_code, since, due, position) "
            "VALUES ($1, 'level', 'province_appraisal', 'province_police', 'tra-vinh-2025', "
            "$2, NULL, $3, $4, $5, $6)",
            [(f"conversion:tra-vinh-2025:{i:05d}", "84" if i % 3 else "86", f"{i:05d}",
              date(2025, 1, 1), date(2025, 1, 1) + timedelta(days=i % 50), i)
             for i in range(300)])
    finally:
        await admin.close()
    async with await EventStore.connect(fresh_database.app_url) as store:
        who = actor("province_police")
        seen: list[tuple[date, str]] = []
        offset = 0
        while True:
            page = await read_inbox(store, who, limit=37, offset=offset,
                                    today=date(2025, 1, 20))
            assert page.total == 200
            seen += [(i.due, i.case_id) for i in page.items]
            if len(page.items) < 37:
                break
            offset += 37
        assert len(seen) == 200 and seen == sorted(seen)
        late = await read_inbox(store, who, overdue=True, limit=1000, today=date(2025, 1, 20))
        assert late.total == len([d for d, _ in seen if d < date(2025, 1, 20)])
        assert all(i.overdue for i in late.items)
