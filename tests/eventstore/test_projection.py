"""The case-status read model: a pure fold of a case's events, kept up by a follower and
rebuilt from the log with the same rows; old payloads upcast on read, never rewritten."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from catalog import get_plan
from domain.approval import Approve, ChainState, Reject, Submit, decide
from domain.events import (
    CaseClosed,
    CaseOpened,
    DeadlineMissed,
    DossierSubmitted,
    Event,
    LevelApproved,
    LevelRejected,
    MetricsRecorded,
    PhaseStarted,
    RecognitionGranted,
    ReportSubmitted,
    SelectionApproved,
)
from domain.roles import Actor, CaseScope, Role
from eventstore import EventStore, NewEvent, Projector, RecordedEvent, read_status
from eventstore.projection import CaseStatus, apply, project
from tests.eventstore.conftest import event

AT = datetime(2025, 3, 1, tzinfo=UTC)
METRICS = {"population": 9000, "addicts_total": 21, "hotspots": 1}
ChainDecision = Submit | Approve | Reject


def opened(commune: str = "28750") -> CaseOpened:
    return CaseOpened(plan_id="tra-vinh-2025", commune_code=commune, district_code="848",
                      province_code="84", opened_by="p-1", opened_by_role="district_ubnd")


def history() -> list[Event | NewEvent]:
    """Trà Vinh 2025 (001 §III.2-4): selected, three phases, one rejection, recognised."""
    return [
        opened(),
        MetricsRecorded(purpose="baseline", metrics=METRICS, classification="type_iii"),
        SelectionApproved(decided_by="p-2", role="province_police"),
        PhaseStarted(phase=1, starts_on=date(2025, 4, 1), ends_on=date(2025, 4, 30)),
        DeadlineMissed(deadline_id="implementation-plan", due=date(2025, 3, 31)),
        ReportSubmitted(deadline_id="phase-1-report", submitted_by="p-3", role="commune_ubnd",
                        late=True),
        PhaseStarted(phase=2, starts_on=date(2025, 5, 1), ends_on=date(2025, 10, 31)),
        PhaseStarted(phase=3, starts_on=date(2025, 11, 1), ends_on=date(2025, 12, 13)),
        MetricsRecorded(purpose="self_assessment", metrics={**METRICS, "hotspots": 0},
                        classification="drug_free"),
        DossierSubmitted(round=1, submitted_by="p-3", role="commune_ubnd",
                         first_level="district"),
        LevelApproved(round=1, level="district", next_level="province"),
        LevelRejected(round=1, level="province", reviewer="p-7", role="province_police",
                      reason="criterion 3: commitments missing in 2 hamlets"),
        # written by an old (v1) writer: no first_level
        NewEvent("x", "dossier.resubmitted", 1, {"round": 2, "submitted_by": "p-3",
                                                 "role": "commune_ubnd"}),
        LevelApproved(round=2, level="district", next_level="province"),
        LevelApproved(round=2, level="province", next_level=None),
        RecognitionGranted(round=2, decided_by="p-9"),
        CaseClosed(outcome="recognised"),
    ]


def recorded(stream: str, events: list[Event | NewEvent]) -> list[RecordedEvent]:
    out = []
    for i, e in enumerate(events, start=1):
        kind, payload = (e.type, e.payload) if isinstance(e, NewEvent) else (e.TYPE, e.payload())
        out.append(RecordedEvent(i * 10, stream, i, f"e{i}", kind, 1, AT, payload, b"", b""))
    return out


def test_a_recognised_case_folds_to_its_final_row() -> None:
    row = project(recorded("c", history()))
    assert row == CaseStatus(
        stream="c", state="recognised", version=17, last_position=170, updated_at=AT,
        plan_id="tra-vinh-2025", province_code="84", district_code="848", commune_code="28750",
        phase=3, phase_starts_on=date(2025, 11, 1), phase_ends_on=date(2025, 12, 13), round=2,
        pending_level=None,
        last_rejection_reason="criterion 3: commitments missing in 2 hamlets",
        last_metrics={**METRICS, "hotspots": 0}, last_classification="drug_free",
        missed_deadlines=1, late_reports=1, closed=True, outcome="recognised",
    )


@pytest.mark.parametrize("upto, state, pending, phase", [
    (1, "opened", None, None),
    (3, "selected", None, None),
    (4, "phase_1", None, 1),
    (10, "in_recognition", "district", 3),
    (11, "in_recognition", "province", 3),
    (12, "returned", None, 3),
    (13, "in_recognition", None, 3),  # a v1 resubmission names no level: unknown, not an error
    (14, "in_recognition", "province", 3),
    (16, "recognised", None, 3),
])
def test_each_step_of_the_chain(upto: int, state: str, pending: str | None,
                                phase: int | None) -> None:
    row = project(recorded("c", history()[:upto]))
    assert row is not None
    assert (row.state, row.pending_level, row.phase) == (state, pending, phase)


@pytest.mark.parametrize("events, state, extra", [
    ([SelectionApproved(decided_by="p", role="r")], None, {}),  # not a case stream
    ([opened(), NewEvent("x", "selection.rejected", 1, {"reason": "no drugs"}),
      CaseClosed(outcome="not_selected")], "not_selected", {"closed": True}),
    ([opened(), NewEvent("x", "case.withdrawn", 1, {})], "withdrawn", {}),
    ([opened(), NewEvent("x", "recognition.denied", 1, {"reasons": ["c1"]})],
     "not_recognised", {}),
    ([opened(), NewEvent("x", "report.submitted", 2, {"deadline_id": "d", "late": False})],
     "opened", {"late_reports": 0}),
    ([opened(), NewEvent("x", "phase.started", 1, {"phase": 2})], "phase_2",
     {"phase_starts_on": None}),  # tolerant of missing optional fields
    ([opened(), NewEvent("x", "some.future.event", 1, {"anything": 1})], "opened", {}),
])
def test_other_outcomes_and_missing_fields(events: list[Any], state: str | None,
                                           extra: dict[str, Any]) -> None:
    row = project(recorded("c", events))
    if state is None:
        assert row is None
        return
    assert row is not None and row.state == state
    for key, value in extra.items():
        assert getattr(row, key) == value


def test_apply_ignores_nothing_and_bumps_the_version() -> None:
    [first, second] = recorded("c", [opened(), NewEvent("x", "reminder.sent", 1, {})])
    row = apply(apply(None, first), second)
    assert row is not None and (row.version, row.last_position) == (2, 20)


# -- the read model of what the real decider emits (defect 3) ---------------------------------


def _decided(events: list[Event]) -> list[RecordedEvent]:
    """Stored rows of the decider's events, at their current schema versions."""
    return [RecordedEvent(i * 10, "c", i, f"e{i}", e.TYPE, e.SCHEMA_VERSION, AT, e.payload(),
                          b"", b"") for i, e in enumerate(events, start=1)]


def test_pending_level_follows_the_events_the_real_decider_emits() -> None:
    """Regression (defect 3): after a real submission the row named no pending level, because
    the projection read a ``first_level`` no event carried. Trà Vinh's chain (001 §III.4):
    submit, the district appraisal passes, the district review rejects, the commune
    resubmits; the row must name the pending level at every step."""
    chain = get_plan("tra-vinh-2025").approval_chain
    scope = CaseScope(province_code="84", district_code="848", commune_code="28750")

    def actor(role: Role) -> Actor:
        return Actor(person_id=f"{role}-1", role=role, province_code="84",
                     district_code="848" if role != "province_ubnd" else None,
                     commune_code="28750" if role == "commune_ubnd" else None)

    appraisal, review = chain[0], chain[1]
    steps: list[tuple[ChainDecision, str | None, str]] = [
        (Submit(actor=actor("commune_ubnd")), appraisal.id, "in_recognition"),
        *[(Approve(actor=actor(r), level=appraisal.id), appraisal.id, "in_recognition")
          for r in appraisal.roles[:-1]],
        (Approve(actor=actor(appraisal.roles[-1]), level=appraisal.id), review.id,
         "in_recognition"),
        (Reject(actor=actor("district_ubnd"), level=review.id, reason="thiếu biên bản"),
         None, "returned"),
        (Submit(actor=actor("commune_ubnd")), appraisal.id, "in_recognition"),
    ]
    state, emitted = ChainState(), [opened()]
    for decision, pending, status in steps:
        state, new = decide(chain, scope, state, decision)
        emitted += new
        row = project(_decided(emitted))
        assert row is not None
        assert (row.state, row.pending_level) == (status, pending), decision
    assert row.round == 2


async def _append_history(store: EventStore, stream: str, events: list[Event | NewEvent],
                          start: int = 0) -> None:
    batch = [replace(e, event_id=f"{stream}:{start + i}") if isinstance(e, NewEvent)
             else NewEvent.of(f"{stream}:{start + i}", e) for i, e in enumerate(events)]
    await store.append(stream, start, batch)


async def _table(store: EventStore) -> list[dict[str, Any]]:
    async with store.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM case_status ORDER BY stream")
    return [dict(r) for r in rows]


async def test_the_follower_and_the_rebuild_agree_with_the_pure_fold(
        fresh_database: Any) -> None:
    async with await EventStore.connect(fresh_database.app_url) as store:
        cases = [f"conversion:tra-vinh-2025:{c}" for c in ("28750", "28753", "28756")]
        await _append_history(store, cases[0], history()[:9])
        await _append_history(store, cases[1], history()[:4])
        await _append_history(store, cases[2], [opened("28756")])
        await store.append("plan:tra-vinh-2025", 0, [event("plan.published")])  # not a case
        projector = Projector(store, batch=5)
        applied = await projector.catch_up()
        assert applied == 9 + 4 + 1 + 1
        await _append_history(store, cases[0], history()[9:], start=9)
        assert await projector.catch_up() == 8
        assert await projector.run_once() == 0

        for case in cases:
            assert await read_status(store, case) == project(await store.read(case))
        assert await read_status(store, "plan:tra-vinh-2025") is None
        final = await read_status(store, cases[0])
        assert final is not None and (final.state, final.closed) == ("recognised", True)

        before = await _table(store)
        assert await projector.rebuild() == 3
        assert await _table(store) == before
        assert await projector.run_once() == 0  # the checkpoint moved with the rebuild


async def test_old_schema_versions_are_upcast_on_read_not_rewritten(
        store: EventStore, admin: asyncpg.Connection, stream: str) -> None:
    v1 = {"deadline_id": "phase-1-report", "submitted_by": "p-3", "role": "commune_ubnd",
          "summary": ""}
    [stored] = await store.append(stream, 0, [NewEvent(f"{uuid.uuid4()}", "report.submitted",
                                                       1, v1)])
    [read] = await store.read(stream)
    assert (read.schema_version, read.payload) == (2, {**v1, "late": False})
    canonical = await admin.fetchval("SELECT canonical FROM events WHERE position = $1",
                                     stored.position)
    doc = json.loads(canonical)
    assert (doc["schema_version"], doc["payload"]) == (1, v1)  # the row is as written
    assert (await store.verify(stream)).ok
