"""The read model follows case.amended (migration 0056): 2025 codes with the legacy ones kept,
the amendments applied, a transferred pending level, and the inbox rows of the inheriting
level; the follower, the rebuild and the pure fold agree."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from domain.events import Event
from eventstore import EventStore, NewEvent, Projector, RecordedEvent, read_status
from eventstore.pending import apply_pending, catalog_plans
from eventstore.projection import CaseStatus, apply, project
from tests.amended_cases import (
    PLAN_ID,
    REFORM,
    amendment_event,
    at_district_review,
    case_id,
    recognised_after_reform,
    selected,
)

AT = datetime(2025, 7, 1, 2, tzinfo=UTC)  # 09:00 on 1 July in Viet Nam


def recorded(stream: str, events: list[Event]) -> list[RecordedEvent]:
    return [RecordedEvent(i * 10, stream, i, f"e{i}", e.TYPE, e.SCHEMA_VERSION, AT, e.payload(),
                          b"", b"") for i, e in enumerate(events, start=1)]


def pending_rows(stream: str, events: list[Event]) -> dict[Any, Any]:
    plan = catalog_plans()(PLAN_ID)
    rows: dict[Any, Any] = {}
    status: CaseStatus | None = None
    for e in recorded(stream, events):
        status = apply(status, e)
        rows = apply_pending(rows, status, e, plan)
    return rows


def test_codes_become_the_2025_ones_and_the_legacy_ones_are_kept() -> None:
    stream = case_id("29323")
    row = project(recorded(stream, [*selected("29323"), amendment_event("29323")]))
    assert row is not None
    assert (row.province_code, row.district_code, row.commune_code) == ("86", None, "29329")
    assert (row.legacy_district_code, row.legacy_commune_code) == ("845", "29323")
    assert row.amendments == [REFORM]
    assert row.pending_level is None  # nothing was pending


def test_a_case_never_amended_has_no_legacy_codes() -> None:
    row = project(recorded(case_id("29317"), selected("29317")))
    assert row is not None
    assert (row.commune_code, row.legacy_commune_code, row.amendments) == ("29317", None, [])


def test_a_transferred_pending_level_becomes_the_rows_pending_level() -> None:
    stream = case_id("29326")
    events = [*at_district_review("29326"), amendment_event("29326", "district_review")]
    before = project(recorded(stream, events[:-1]))
    after = project(recorded(stream, events))
    assert before is not None and before.pending_level == "district_review"
    assert after is not None and after.pending_level == "province_appraisal"
    assert after.state == "in_recognition"


def test_pending_decisions_move_to_the_inheriting_levels_roles_and_codes() -> None:
    stream = case_id("29326")
    events = [*at_district_review("29326"), amendment_event("29326", "district_review")]
    before = pending_rows(stream, events[:-1])
    assert {k for k in before if k[0] == "level"} == {("level", "district_review",
                                                        "district_ubnd")}
    rows = pending_rows(stream, events)
    levels = {k: r for k, r in rows.items() if k[0] == "level"}
    assert set(levels) == {("level", "province_appraisal", "province_police"),
                           ("level", "province_appraisal", "province_department")}
    for r in levels.values():
        assert (r.province_code, r.district_code, r.commune_code) == ("86", None, "29329")
        assert r.since == date(2025, 7, 1)
        assert r.due == date(2025, 7, 6)  # the inheriting level's 5 days start at the transfer
    # the reports the commune still owes follow it to its 2025 codes
    reports = [r for k, r in rows.items() if k[0] in ("report", "dossier")]
    assert reports and all((r.province_code, r.commune_code) == ("86", "29329")
                           for r in reports)


async def _append(store: EventStore, stream: str, events: list[Event], start: int = 0) -> None:
    await store.append(stream, start, [NewEvent(f"{stream}:{start + i}", e.TYPE, e.SCHEMA_VERSION,
                                                e.payload())
                                       for i, e in enumerate(events)])


async def _tables(store: EventStore) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with store.pool.acquire() as conn:
        cases = await conn.fetch("SELECT * FROM case_status ORDER BY stream")
        pending = await conn.fetch("SELECT * FROM pending_decisions "
                                   "ORDER BY stream, kind, subject, role")
    return [dict(r) for r in cases], [dict(r) for r in pending]


async def test_follower_and_rebuild_agree_with_the_fold_across_an_amendment(
        fresh_database: Any) -> None:
    async with await EventStore.connect(fresh_database.app_url) as store:
        waiting, done = case_id("29326"), case_id("29320")
        await _append(store, waiting, at_district_review("29326"))
        await _append(store, done, recognised_after_reform("29320")[:7])
        projector = Projector(store, batch=3)
        await projector.catch_up()
        await _append(store, waiting, [amendment_event("29326", "district_review")], start=7)
        await _append(store, done, recognised_after_reform("29320")[7:], start=7)
        await projector.catch_up()

        for stream in (waiting, done):
            assert await read_status(store, stream) == project(await store.read(stream))
        row = await read_status(store, waiting)
        assert row is not None
        assert (row.commune_code, row.legacy_commune_code, row.pending_level,
                row.amendments) == ("29329", "29326", "province_appraisal", [REFORM])
        cases, pending = await _tables(store)
        inbox = {(r["role"], r["province_code"], r["commune_code"]) for r in pending
                 if r["kind"] == "level"}
        assert inbox == {("province_police", "86", "29329"),
                         ("province_department", "86", "29329")}
        closed = await read_status(store, done)
        assert closed is not None and closed.outcome == "recognised"
        assert (closed.commune_code, closed.legacy_commune_code) == ("29317", "29320")

        assert await projector.rebuild() == 2
        assert await _tables(store) == (cases, pending)
