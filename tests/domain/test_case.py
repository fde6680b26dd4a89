"""A commune's conversion case (hồ sơ chuyển hóa) as a pure decider: every rule, no server.

Trà Vinh 2025 (001 §III.2, §III.4, §V.1): the provincial police selects the commune, the
commune reports at the end of each phase (late reports accepted, marked late), its dossier is
evaluated against the plan's criteria (sơ kết) and, when they are met, enters the approval
chain; the district may withdraw; at the plan's end the case closes with its outcome.

The second half is property-based: random command sequences never reach "recognised" without
a met dossier and the chain's approval, and a refused command changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog import get_plan
from domain import case
from domain.agenda import case_agenda, selection_agenda
from domain.case import (
    CaseError,
    CaseState,
    ChainEnded,
    Open,
    Pass,
    PlanEnded,
    Select,
    Submit,
    Withdraw,
    decide,
)
from domain.clock import PlanClock
from domain.errors import DomainError
from domain.events import Event
from domain.notices import notices_for
from domain.roles import Actor, CaseScope
from tests.workflows.support import BASELINE, CLEAN

PLAN = get_plan("tra-vinh-2025")
CLOCK = PlanClock()
# Xã Mỹ Cẩm, Huyện Càng Long (844), Trà Vinh (84)
SCOPE = CaseScope(province_code="84", district_code="844", commune_code="29269")


def person(role: str, **over: Any) -> Actor:
    data: dict[str, Any] = {"person_id": f"p-{role}", "role": role, "province_code": "84"}
    if role.startswith("district_") or role == "commune_ubnd":
        data["district_code"] = "844"
    if role == "commune_ubnd":
        data["commune_code"] = "29269"
    return Actor(**(data | over))


COMMUNE, POLICE, DISTRICT = person("commune_ubnd"), person("province_police"), \
    person("district_ubnd")


def at(day: date, hours: int = 9) -> datetime:
    return CLOCK.day_start(PLAN, day) + timedelta(hours=hours)


EARLY = at(date(2025, 3, 1))


def run(state: CaseState, command: case.Command,
        now: datetime = EARLY) -> tuple[CaseState, list[Event]]:
    return decide(PLAN, SCOPE, state, command, now, CLOCK)


def types(events: list[Event]) -> list[str]:
    return [e.TYPE for e in events]


def opened() -> CaseState:
    return run(CaseState(), Open(opened_by=DISTRICT, baseline=BASELINE))[0]


def selected() -> CaseState:
    return run(opened(), Select(actor=POLICE, selected=True))[0]


def dossier(metrics: dict[str, Any] = CLEAN) -> Submit:
    return Submit(actor=COMMUNE, deadline_id="dossier", metrics=metrics)


# -- the story ---------------------------------------------------------------------------------


def test_open_records_the_baseline_and_its_class() -> None:
    s, events = run(CaseState(), Open(opened_by=DISTRICT, baseline=BASELINE))
    assert types(events) == ["case.opened", "metrics.recorded"]
    assert s.opened and s.status == "opened" and s.classification == "type_iii"
    assert events[0].plan_hash is None  # type: ignore[attr-defined]
    _, events = run(CaseState(), Open(opened_by=DISTRICT, baseline=BASELINE, plan_hash="ab" * 32))
    assert events[0].plan_hash == "ab" * 32  # type: ignore[attr-defined]


def test_selection_then_a_year_of_reports_then_recognition() -> None:
    s = selected()
    assert s.status == "selected" and s.selected is True
    s, ev = run(s, Submit(actor=COMMUNE, deadline_id="phase_1_report", metrics=CLEAN),
                at(date(2025, 4, 29)))
    assert types(ev) == ["report.submitted", "metrics.recorded"]
    assert s.submitted == {"phase_1_report": False}
    s, ev = run(s, dossier(), at(date(2025, 11, 18)))
    assert types(ev) == ["report.submitted", "metrics.recorded", "criteria.evaluated"]
    assert s.criteria_met and s.recognition_running and s.status == "in_recognition"
    s, ev = run(s, ChainEnded(outcome="recognised"))
    assert types(ev) == ["case.closed"] and s.outcome == "recognised" and s.closed


def test_a_report_after_its_deadline_is_accepted_and_marked_late() -> None:
    due = PLAN.deadline("phase_1_report").due
    s, ev = run(selected(), Submit(actor=COMMUNE, deadline_id="phase_1_report"),
                at(due + timedelta(days=1), 0))
    assert s.submitted["phase_1_report"] is True
    assert ev[0].model_dump()["late"] is True
    # the last second of the due day is still on time
    s2, _ = run(selected(), Submit(actor=COMMUNE, deadline_id="phase_1_report"),
                CLOCK.deadline(PLAN, due) - timedelta(seconds=1))
    assert s2.submitted["phase_1_report"] is False


def test_a_dossier_failing_criteria_records_bilingual_reasons_and_may_come_again() -> None:
    bad = {**CLEAN, "hotspots": 1}
    s, ev = run(selected(), dossier(bad))
    assert s.criteria_met is False and not s.recognition_running
    assert s.criteria_reasons and all(" / " in r for r in s.criteria_reasons)
    assert s.criteria_reasons[0].startswith("1.")
    s, _ = run(s, dossier())  # fixed and submitted again
    assert s.criteria_met and s.recognition_running


def test_not_selected_closes_with_the_reason() -> None:
    s, ev = run(opened(), Select(actor=POLICE, selected=False, reason="chưa đủ điều kiện"))
    assert types(ev) == ["selection.rejected", "case.closed"]
    assert s.outcome == "not_selected" and s.reasons == ["chưa đủ điều kiện"]


def test_withdrawal_closes_the_case() -> None:
    s, ev = run(selected(), Withdraw(actor=DISTRICT, reason="sáp nhập đơn vị"))
    assert types(ev) == ["case.withdrawn", "case.closed"] and s.outcome == "withdrawn"


@pytest.mark.parametrize(("state", "reason"), [
    (lambda: opened(), case.NO_SELECTION),
    (lambda: selected(), case.NO_DOSSIER),
    (lambda: run(selected(), dossier({**CLEAN, "hotspots": 2}))[0], "1. "),
])
def test_the_plan_ends_without_a_chain_outcome(state: Any, reason: str) -> None:
    s, ev = run(state(), PlanEnded())
    assert s.closed and s.reasons and s.reasons[0].startswith(reason)
    assert ev[-1].TYPE == "case.closed"


def test_chain_outcomes() -> None:
    running = run(selected(), dossier())[0]
    s, ev = run(running, ChainEnded(outcome="not_recognised", reasons=["hồ sơ bị trả lại"]))
    assert types(ev) == ["recognition.denied", "case.closed"]
    assert s.outcome == "not_recognised" and s.reasons == ["hồ sơ bị trả lại"]
    s, ev = run(running, ChainEnded(outcome="interrupted", cause="terminated"))
    assert types(ev) == ["recognition.interrupted", "case.closed"]
    assert s.outcome == "interrupted" and "terminated" in s.reasons[0]
    assert not any("tiêu chí" in r or "criteria" in r for r in s.reasons)


def test_a_rule_that_cannot_apply_halts_the_case_with_its_code() -> None:
    """Never wedged: a domain error inside the run closes the case, recording why."""
    running = run(selected(), dossier())[0]
    s, ev = run(running, case.Halt(code="rules.no_match"))
    assert types(ev) == ["case.halted", "case.closed"]
    assert ev[0].code == "rules.no_match"  # type: ignore[attr-defined]
    assert s.outcome == "interrupted" and not s.recognition_running
    assert "rules.no_match" in s.reasons[0]
    with pytest.raises(DomainError) as info:
        run(s, case.Halt(code="again"))
    assert info.value.code == "case.closed"


def test_agenda_points_phase_reminders_and_missed_deadlines() -> None:
    s = selected()
    items = {i.key: i for i in case_agenda(PLAN, CLOCK)}
    s, ev = run(s, Pass(item=items["phase_start:1"]))
    assert types(ev) == ["phase.started"] and s.status == "in_phase" and s.phase == 1
    s, ev = run(s, Pass(item=items["remind:phase_1_report:7"]))
    assert types(ev) == ["reminder.sent"]
    s, ev = run(s, Pass(item=items["due:phase_1_report"]))
    assert types(ev) == ["deadline.missed", "case.escalated"]
    assert s.missed == ["phase_1_report"]
    # a submitted report is not reminded nor missed
    s, _ = run(s, Submit(actor=COMMUNE, deadline_id="phase_2_report"))
    assert run(s, Pass(item=items["due:phase_2_report"]))[1] == []
    sel = selection_agenda(PLAN, CLOCK)[-1]
    assert run(s, Pass(item=sel))[1] == []  # selected: the selection deadline is not missed
    assert types(run(opened(), Pass(item=sel))[1]) == ["deadline.missed", "case.escalated"]


def test_notices_follow_the_events() -> None:
    _, ev = run(opened(), Select(actor=POLICE, selected=True))
    notices = notices_for(PLAN, SCOPE, "conversion:tra-vinh-2025:29269", ev)
    assert [(n.template, n.to_role) for n in notices] == [
        ("selected", "commune_ubnd"), ("selected", "district_ubnd")]
    items = {i.key: i for i in case_agenda(PLAN, CLOCK)}
    _, ev = run(selected(), Pass(item=items["due:phase_1_report"]))
    notices = notices_for(PLAN, SCOPE, "c", ev)
    assert [(n.template, n.to_role) for n in notices] == [
        ("deadline_missed", "commune_ubnd"), ("escalation", "district_ubnd")]
    assert all(set(n.params) >= {"commune", "plan"} for n in notices)


# -- refusals: each names its code and changes nothing -------------------------------------

REFUSALS: list[tuple[str, Any, Any, str]] = [
    ("open twice", opened, lambda: Open(opened_by=DISTRICT, baseline=BASELINE),
     "case.already_open"),
    ("bad baseline", CaseState, lambda: Open(opened_by=DISTRICT, baseline={"population": -1}),
     "metrics.invalid"),
    ("act before opening", CaseState, lambda: Select(actor=POLICE, selected=True),
     "case.not_open"),
    ("select: wrong role", opened, lambda: Select(actor=DISTRICT, selected=True),
     "case.wrong_role"),
    ("select: other province", opened,
     lambda: Select(actor=person("province_police", province_code="86"), selected=True),
     "case.wrong_jurisdiction"),
    ("select twice", selected, lambda: Select(actor=POLICE, selected=True),
     "case.already_decided"),
    ("not selected without reason", opened, lambda: Select(actor=POLICE, selected=False),
     "case.reason_required"),
    ("report before selection", opened,
     lambda: Submit(actor=COMMUNE, deadline_id="phase_1_report"), "case.not_selected"),
    ("report by the district", selected,
     lambda: Submit(actor=DISTRICT, deadline_id="phase_1_report"), "case.wrong_role"),
    ("report of another commune", selected,
     lambda: Submit(actor=person("commune_ubnd", commune_code="29270"),
                    deadline_id="phase_1_report"), "case.wrong_jurisdiction"),
    ("unknown deadline", selected, lambda: Submit(actor=COMMUNE, deadline_id="phase_9"),
     "plan.unknown_deadline"),
    ("not the commune's deadline", selected,
     lambda: Submit(actor=COMMUNE, deadline_id="selection"), "case.unknown_deadline"),
    ("report twice", lambda: run(selected(), Submit(actor=COMMUNE,
                                                    deadline_id="phase_1_report"))[0],
     lambda: Submit(actor=COMMUNE, deadline_id="phase_1_report"), "case.already_submitted"),
    ("dossier without metrics", selected,
     lambda: Submit(actor=COMMUNE, deadline_id="dossier"), "case.metrics_required"),
    ("dossier with bad metrics", selected,
     lambda: dossier({**CLEAN, "addicts_with_records": 99}), "metrics.invalid"),
    ("dossier while in the chain", lambda: run(selected(), dossier())[0], dossier,
     "case.recognition_running"),
    ("plan ends while the chain runs", lambda: run(selected(), dossier())[0], PlanEnded,
     "case.recognition_running"),
    ("withdraw: wrong role", selected, lambda: Withdraw(actor=POLICE, reason="x"),
     "case.wrong_role"),
    ("withdraw: other district", selected,
     lambda: Withdraw(actor=person("district_ubnd", district_code="845"), reason="x"),
     "case.wrong_jurisdiction"),
    ("anything after closing", lambda: run(selected(), Withdraw(actor=DISTRICT,
                                                                 reason="x"))[0],
     lambda: Submit(actor=COMMUNE, deadline_id="phase_1_report"), "case.closed"),
]


@pytest.mark.parametrize(("state", "command", "code"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusals(state: Any, command: Any, code: str) -> None:
    before = state()
    snapshot = before.model_dump()
    with pytest.raises(DomainError) as err:
        run(before, command())
    assert err.value.code == code, err.value
    assert before.model_dump() == snapshot


def test_states_are_frozen() -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        opened().status = "closed"  # type: ignore[misc]


def test_after_the_reform_the_province_withdraws() -> None:
    plan = get_plan("ninh-binh-2026")
    scope = CaseScope(province_code=plan.province_code, district_code=None,
                      commune_code="14395")
    s, _ = decide(plan, scope, CaseState(), Open(opened_by=POLICE.model_copy(
        update={"province_code": plan.province_code}), baseline=BASELINE), EARLY)
    ubnd = Actor(person_id="p", role="province_ubnd", province_code=plan.province_code)
    assert decide(plan, scope, s, Withdraw(actor=ubnd, reason="x"), EARLY)[0].closed
    with pytest.raises(CaseError) as err:
        decide(plan, scope, s, Withdraw(actor=DISTRICT, reason="x"), EARLY)
    assert err.value.code == "case.wrong_role"


# -- properties ----------------------------------------------------------------------------

ITEMS = case_agenda(PLAN, CLOCK) + selection_agenda(PLAN, CLOCK)
SUBMITTABLE = [d.id for d in PLAN.deadlines]
ACTORS = [COMMUNE, POLICE, DISTRICT, person("commune_ubnd", commune_code="29270"),
          person("province_ubnd")]

commands = st.one_of(
    st.builds(Select, actor=st.sampled_from(ACTORS), selected=st.booleans(),
              reason=st.sampled_from(["", "lý do"])),
    st.builds(Submit, actor=st.sampled_from(ACTORS), deadline_id=st.sampled_from(SUBMITTABLE),
              metrics=st.sampled_from([None, CLEAN, {**CLEAN, "hotspots": 1},
                                       {"population": 0}])),
    st.builds(Withdraw, actor=st.sampled_from(ACTORS), reason=st.just("rút")),
    st.builds(Pass, item=st.sampled_from(ITEMS)),
    st.builds(ChainEnded, outcome=st.sampled_from(["recognised", "not_recognised",
                                                   "interrupted"]),
              reasons=st.just(["r"])),
    st.just(PlanEnded()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(commands, st.integers(0, 320)), max_size=25))
def test_no_sequence_recognises_without_a_met_dossier_in_the_chain(
        steps: list[tuple[case.Command, int]]) -> None:
    """Recognition needs the chain's word, which needs a met dossier; refusals change nothing;
    nothing is accepted once closed; closing happens exactly once."""
    s = opened()
    closings = 0
    for command, day in steps:
        now = at(date(2025, 2, 17) + timedelta(days=day))
        # The chain only ends if it runs: the workflow never reports an outcome otherwise.
        if isinstance(command, ChainEnded) and not s.recognition_running:
            continue
        snapshot = s.model_dump()
        try:
            new, events = decide(PLAN, SCOPE, s, command, now, CLOCK)
        except DomainError:
            assert s.model_dump() == snapshot
            continue
        assert not s.closed, "a closed case accepted a command"
        if new.outcome == "recognised":
            assert s.recognition_running and s.criteria_met and s.selected
            assert "dossier" in s.submitted
        closings += types(events).count("case.closed")
        if new.closed:
            assert events[-1].TYPE == "case.closed"
        s = new
    assert closings == (1 if s.closed else 0)


# -- which agenda points matter (the workflow's one timer waits for the first of them) ------------


def test_first_effective_skips_points_that_record_nothing() -> None:
    items = case_agenda(PLAN, CLOCK)
    keys = [i.key for i in items]
    s = selected()
    # nothing submitted yet: the first point, a reminder, records an event
    assert case.first_effective(PLAN, s, items) == 0
    s, _ = run(s, Submit(actor=COMMUNE, deadline_id="implementation_plan"))
    # submitted: its reminders and its deadline record nothing; the phase start does
    assert keys[case.first_effective(PLAN, s, items) or 0] == "phase_start:1"
    rest = items[keys.index("remind:implementation_plan:1"):]
    assert keys[keys.index("remind:implementation_plan:1") +
                (case.first_effective(PLAN, s, rest) or 0)] == "remind:phase_1_report:7"
    # every point the helper skips records nothing when passed, as the decider says
    for i, item in enumerate(items[:case.first_effective(PLAN, s, items) or 0]):
        assert run(s, Pass(item=item))[1] == [], (i, item.key)


def test_first_effective_of_points_that_all_record_nothing_is_none() -> None:
    s = selected()
    for d in ("implementation_plan", "phase_1_report"):
        s, _ = run(s, Submit(actor=COMMUNE, deadline_id=d,
                             metrics=CLEAN if d == "phase_1_report" else None))
    quiet = [i for i in case_agenda(PLAN, CLOCK) if i.deadline is not None
             and i.deadline.id in ("implementation_plan", "phase_1_report")]
    assert len(quiet) == 6 and case.first_effective(PLAN, s, quiet) is None
    assert case.first_effective(PLAN, s, []) is None
    # the selection agenda: every point matters until the commune is selected
    assert case.first_effective(PLAN, opened(), selection_agenda(PLAN, CLOCK)) == 0
    assert case.first_effective(PLAN, s, selection_agenda(PLAN, CLOCK)) is None


def test_first_effective_agrees_with_the_decider_on_every_prefix() -> None:
    """For states along a year, the index is the first point the decider records for."""
    items = selection_agenda(PLAN, CLOCK) + case_agenda(PLAN, CLOCK)
    states = [opened(), selected()]
    s = selected()
    for d in ("implementation_plan", "phase_1_report", "forum_q2", "dossier"):
        s, _ = run(s, Submit(actor=COMMUNE, deadline_id=d,
                             metrics=CLEAN if d in ("phase_1_report", "dossier") else None))
        states.append(s)
    for s in states:
        for start in range(len(items)):
            rest = items[start:]
            expected = next((i for i, item in enumerate(rest)
                             if run(s, Pass(item=item)) != (s, [])), None)
            assert case.first_effective(PLAN, s, rest) == expected


def test_first_effective_of_a_closed_case_stops_at_once() -> None:
    closed = run(selected(), Withdraw(actor=DISTRICT, reason="x"))[0]
    assert case.first_effective(PLAN, closed, case_agenda(PLAN, CLOCK)) == 0
