"""The event catalogue: stable type names, payload round trips, upcasting of old payloads.

Stored histories name events by ``TYPE``; renaming one would orphan every stored row, so the
list is pinned here on purpose: a change must be deliberate (new type: add it and a sample;
new payload shape: bump ``SCHEMA_VERSION`` and register an upcaster).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain import events as ev
from domain.errors import DomainError
from domain.events import EVENT_TYPES, Event, parse_event, upcast

# type name -> (class name, schema version). Never edit an existing line.
PINNED: dict[str, tuple[str, int]] = {
    "case.opened": ("CaseOpened", 2),
    "metrics.recorded": ("MetricsRecorded", 1),
    "selection.approved": ("SelectionApproved", 1),
    "selection.rejected": ("SelectionRejected", 1),
    "phase.started": ("PhaseStarted", 1),
    "phase.ended": ("PhaseEnded", 1),
    "report.submitted": ("ReportSubmitted", 2),
    "deadline.missed": ("DeadlineMissed", 1),
    "reminder.sent": ("ReminderSent", 1),
    "case.escalated": ("Escalated", 1),
    "criteria.evaluated": ("CriteriaEvaluated", 1),
    "dossier.submitted": ("DossierSubmitted", 2),
    "level.signed": ("SignoffRecorded", 1),
    "level.approved": ("LevelApproved", 1),
    "level.rejected": ("LevelRejected", 1),
    "signoff.delegated": ("SignoffDelegated", 1),
    "dossier.resubmitted": ("DossierResubmitted", 2),
    "recognition.granted": ("RecognitionGranted", 1),
    "recognition.denied": ("RecognitionDenied", 1),
    "case.withdrawn": ("CaseWithdrawn", 1),
    "case.halted": ("CaseHalted", 1),
    "case.closed": ("CaseClosed", 1),
    "case.amended": ("CaseAmended", 1),
    "round.opened": ("RoundOpened", 1),
    "unit_report.submitted": ("UnitReportSubmitted", 1),
    "unit_report.returned": ("UnitReportReturned", 1),
    "unit_report.reminded": ("UnitReportReminded", 1),
    "unit_report.missed": ("UnitReportMissed", 1),
    "round.consolidated": ("RoundConsolidated", 1),
    "round.approved": ("RoundApproved", 1),
    "round.closed": ("RoundClosed", 1),
    "recognition.interrupted": ("RecognitionInterrupted", 1),
    "level.voted": ("VoteCast", 1),
    "audit.read": ("AuditRead", 1),
}

SAMPLES: list[Event] = [
    ev.AuditRead(reader="p-auditor", role="auditor", province_code="84", interface="api",
                 operation="history", target="conversion:tra-vinh-2025:29242"),
    ev.CaseOpened(plan_id="tra-vinh-2025", commune_code="29242", district_code="842",
                  province_code="84", opened_by="p-district-1", opened_by_role="district_ubnd"),
    ev.CaseOpened(plan_id="ninh-binh-2026", commune_code="14359", district_code=None,
                  province_code="37", opened_by="p-pp-1", opened_by_role="province_police"),
    ev.MetricsRecorded(purpose="baseline", metrics={"addicts_total": 12, "population": 9_800,
                       "drug_plant_area_m2": 12.5, "on_trafficking_route": False},
                       classification="type_iii", classification_reasons=["20-59 addicts"]),
    ev.SelectionApproved(decided_by="p-pp-1", role="province_police"),
    ev.SelectionRejected(decided_by="p-pp-1", role="province_police", reason="đã không ma túy"),
    ev.PhaseStarted(phase=2, starts_on=date(2025, 5, 1), ends_on=date(2025, 10, 31)),
    ev.PhaseEnded(phase=2),
    ev.ReportSubmitted(deadline_id="phase_1_report", submitted_by="p-c-1", role="commune_ubnd",
                       late=True, summary="báo cáo giai đoạn 1"),
    ev.DeadlineMissed(deadline_id="selection", due=date(2025, 3, 29)),
    ev.ReminderSent(deadline_id="dossier", due=date(2025, 11, 20), days_before=7,
                    to_role="commune_ubnd"),
    ev.Escalated(deadline_id="phase_2_report", to_role="district_ubnd"),
    ev.CriteriaEvaluated(criteria_set="tra-vinh-2025", met=False,
                         results=[{"id": 1, "met": True}, {"id": 4, "met": False,
                                                           "reason": "missing data"}]),
    ev.DossierSubmitted(round=1, submitted_by="p-c-1", role="commune_ubnd",
                        first_level="district_appraisal"),
    ev.SignoffRecorded(round=1, level="district_appraisal", reviewer="p-dp-2",
                       role="district_police", reason="đạt", on_behalf_of="p-dp-1"),
    ev.LevelApproved(round=1, level="district_appraisal", next_level="district_review"),
    ev.LevelApproved(round=1, level="province_decision", next_level=None),
    ev.LevelRejected(round=1, level="district_review", reviewer="p-du-1", role="district_ubnd",
                     reason="thiếu hồ sơ người sau cai"),
    ev.SignoffDelegated(round=2, level="province_appraisal", role="province_police",
                        from_person="p-pp-1", to_person="p-pp-2"),
    ev.VoteCast(round=1, level="review_council", reviewer="p-hd-3", role="province_council",
                vote="reject", reason="tiêu chí 3: thiếu cam kết"),
    ev.VoteCast(round=2, level="review_council", reviewer="p-hd-1", role="province_council",
                vote="approve"),
    ev.DossierResubmitted(round=2, submitted_by="p-c-1", role="commune_ubnd",
                          first_level="province_appraisal"),
    ev.RecognitionGranted(round=2, decided_by="p-pu-1"),
    ev.RecognitionDenied(reasons=["criterion 4: missing data"]),
    ev.CaseWithdrawn(withdrawn_by="p-du-1", role="district_ubnd", reason="sáp nhập đơn vị"),
    ev.CaseHalted(code="plan.bad_rule"),
    ev.CaseClosed(outcome="recognised"),
    ev.RecognitionInterrupted(cause="terminated"),
    ev.CaseAmended(amendment="tra-vinh-2025-reform", title_vi="Trà Vinh 2025: hai cấp",
                   effective_on=date(2025, 7, 1), sources=["Law 72/2025/QH15"],
                   decided_by="p-pu-1", role="province_ubnd", plan_before="a" * 64,
                   plan_after="b" * 64, structure_before="legacy", structure_after="current",
                   roles={"district_ubnd": "province_ubnd"},
                   chain_before=["district_appraisal", "province_decision"],
                   chain_after=[{"id": "province_decision", "name_vi": "Quyết định",
                                 "name_en": "Decision", "roles": ["province_ubnd"],
                                 "rule": "all_of"}],
                   pending={"round": 1, "level_before": "district_appraisal",
                            "level_after": "province_decision", "transferred": True},
                   codes={"commune_before": "29266", "commune_after": "29266",
                          "province_after": "86"}),
    ev.RoundOpened(plan_id="son-la-action-month-2023", round="action-month", kind="campaign",
                   year=2023, due=date(2023, 7, 3), form="action-month", province_code="14",
                   opened_by="p-pp-1", role="province_police", units=["police", "district-116"]),
    ev.UnitReportSubmitted(unit="district-116", submitted_by="p-du-1", role="district_ubnd",
                           late=False, values={"sessions": 12, "reached_share": 80.5},
                           sections={"results": "..."}),
    ev.UnitReportReturned(unit="district-116", reviewer="p-pp-1", role="province_police",
                          reason="thiếu số liệu"),
    ev.UnitReportReminded(unit="health", due=date(2023, 7, 3), days_before=3,
                          to_role="province_department"),
    ev.UnitReportMissed(unit="health", due=date(2023, 7, 3), escalated_to="province_police"),
    ev.RoundConsolidated(consolidated_by="p-pp-1", role="province_police",
                         table={"round": "action-month", "indicators": []}),
    ev.RoundApproved(approved_by="p-pu-1", role="province_ubnd"),
    ev.RoundClosed(outcome="approved"),
]


def _all_subclasses(cls: type[Event]) -> set[type[Event]]:
    out: set[type[Event]] = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_all_subclasses(sub)}
    return out


# -- names ------------------------------------------------------------------------------------


def test_event_type_names_are_pinned() -> None:
    actual = {t: (cls.__name__, cls.SCHEMA_VERSION) for t, cls in EVENT_TYPES.items()}
    assert actual == PINNED


def test_every_event_class_is_registered_under_a_unique_name() -> None:
    classes = {c for c in _all_subclasses(Event) if c.__module__ == ev.__name__}
    names = [c.TYPE for c in classes]
    assert all(names), "an event class has no TYPE"
    assert len(set(names)) == len(names), "two event classes share a TYPE"
    assert set(EVENT_TYPES.values()) == classes
    for type_name, cls in EVENT_TYPES.items():
        assert cls.TYPE == type_name
        assert cls.SCHEMA_VERSION >= 1


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES.values())


def test_no_event_field_carries_a_persons_name() -> None:
    # Decree 13/2023: opaque person ids and roles only, never names
    for cls in EVENT_TYPES.values():
        assert not [f for f in cls.model_fields if "name" in f], cls.__name__


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: e.TYPE)
def test_payload_round_trips_through_parse_event(event: Event) -> None:
    assert event.type == event.TYPE
    stored = json.loads(json.dumps(event.payload()))  # as a JSONB column gives it back
    again = parse_event(event.type, event.SCHEMA_VERSION, stored)
    assert type(again) is type(event)
    assert again == event
    assert again.payload() == event.payload()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
_OVERRIDES: dict[type[Event], dict[str, st.SearchStrategy[Any]]] = {
    ev.MetricsRecorded: {"metrics": st.dictionaries(st.text(), _json, max_size=6)},
    ev.CriteriaEvaluated: {
        "results": st.lists(st.dictionaries(st.text(), _json, max_size=4), max_size=4)
    },
    ev.UnitReportSubmitted: {"values": st.dictionaries(st.text(), _json, max_size=4)},
    ev.RoundConsolidated: {"table": st.dictionaries(st.text(), _json, max_size=4)},
    ev.CaseAmended: {
        "chain_after": st.lists(st.dictionaries(st.text(), _json, max_size=4), max_size=3),
        "pending": st.none() | st.dictionaries(st.text(), _json, max_size=4),
        "deadlines": st.lists(st.dictionaries(st.text(), _json, max_size=4), max_size=3),
        "escalations": st.lists(st.dictionaries(st.text(), _json, max_size=4), max_size=3),
        "codes": st.none() | st.dictionaries(st.text(), _json, max_size=4),
    },
}
any_event = st.one_of(
    [st.builds(cls, **_OVERRIDES.get(cls, {})) for cls in EVENT_TYPES.values()]
)


@settings(max_examples=300, deadline=None)
@given(any_event)
def test_any_event_round_trips(event: Event) -> None:
    stored = json.loads(json.dumps(event.payload()))
    assert parse_event(event.type, event.SCHEMA_VERSION, stored) == event


def test_events_are_frozen_and_strict() -> None:
    event = ev.PhaseEnded(phase=1)
    with pytest.raises(ValidationError):
        event.phase = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ev.PhaseEnded(phase=1, commune_name="Xã A")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        parse_event("phase.ended", 1, {"phase": 1, "note": "unknown field"})


# -- versions -------------------------------------------------------------------------------

V1_REPORT = {"deadline_id": "phase_1_report", "submitted_by": "p-c-1", "role": "commune_ubnd",
             "summary": "báo cáo"}


def test_report_submitted_v1_is_upcast_with_late_false() -> None:
    stored = dict(V1_REPORT)
    event = parse_event("report.submitted", 1, stored)
    assert isinstance(event, ev.ReportSubmitted)
    assert event.late is False
    assert event.deadline_id == "phase_1_report"
    assert stored == V1_REPORT, "the stored payload must not be rewritten"


def test_upcast_lifts_step_by_step_to_the_current_version() -> None:
    version, payload = upcast("report.submitted", 1, dict(V1_REPORT))
    assert version == ev.ReportSubmitted.SCHEMA_VERSION == 2
    assert payload == {**V1_REPORT, "late": False}


def test_current_version_is_not_touched() -> None:
    v2 = {**V1_REPORT, "late": True}
    assert upcast("report.submitted", 2, v2) == (2, v2)
    assert parse_event("report.submitted", 2, v2).late is True  # type: ignore[attr-defined]


def test_v1_report_without_upcast_is_refused_by_the_v2_model() -> None:
    # proves the upcaster is what makes old rows readable
    with pytest.raises(ValidationError):
        ev.ReportSubmitted.model_validate(V1_REPORT)


@pytest.mark.parametrize("type_name", ["dossier.submitted", "dossier.resubmitted"])
def test_dossier_v1_is_upcast_with_an_unknown_first_level(type_name: str) -> None:
    # v1 did not say which level became pending; the upcaster must not guess it
    v1 = {"round": 1, "submitted_by": "p-c-1", "role": "commune_ubnd"}
    stored = dict(v1)
    assert upcast(type_name, 1, stored) == (2, {**v1, "first_level": None})
    event = parse_event(type_name, 1, stored)
    assert event.first_level is None  # type: ignore[attr-defined]
    assert stored == v1, "the stored payload must not be rewritten"
    with pytest.raises(ValidationError):  # the upcaster is what makes v1 readable
        EVENT_TYPES[type_name].model_validate(v1)


def test_case_opened_v1_is_upcast_with_an_unknown_plan_version() -> None:
    # v1 did not name the plan version the case opened under: unknown, never today's
    v1 = {"plan_id": "tra-vinh-2025", "commune_code": "29416", "district_code": "851",
          "province_code": "84", "opened_by": "p-d-1", "opened_by_role": "district_ubnd"}
    stored = dict(v1)
    assert upcast("case.opened", 1, stored) == (2, {**v1, "plan_hash": None})
    event = parse_event("case.opened", 1, stored)
    assert isinstance(event, ev.CaseOpened) and event.plan_hash is None
    assert stored == v1, "the stored payload must not be rewritten"
    assert parse_event("case.opened", 2, {**v1, "plan_hash": "ab" * 32}).plan_hash == "ab" * 32  # type: ignore[attr-defined]


def test_missing_upcaster_is_a_domain_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ev.ReportSubmitted, "SCHEMA_VERSION", 3)
    with pytest.raises(DomainError) as exc:
        parse_event("report.submitted", 1, dict(V1_REPORT))
    assert exc.value.code == "events.no_upcaster"
    assert "report.submitted v2 -> v3" in exc.value.message


def test_upcast_passes_unknown_types_through() -> None:
    payload = {"x": 1}
    assert upcast("case.archived", 4, payload) == (4, payload)


@pytest.mark.parametrize("type_name", ["case.archived", "", "CaseOpened", "Case.Opened"])
def test_unknown_type_is_a_domain_error(type_name: str) -> None:
    with pytest.raises(DomainError) as exc:
        parse_event(type_name, 1, {})
    assert exc.value.code == "events.unknown_type"
    assert f"unknown event type: {type_name}" in exc.value.message
