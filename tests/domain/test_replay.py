"""A case replayed at any instant (issue 11, ``domain.replay``).

A full year is driven through the deciders themselves (``domain.case``, ``domain.approval``)
on the plan's agenda, recording what they return as a store would (one instant per batch):
after every step the fold of the events so far agrees with the deciders' states, and ``at``
gives the case at each phase boundary and in the middle of the approval chain. Then the
events of a real run (the recorded workflow histories of a case rejected four times) fold to
what that run did.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from catalog import get_plan
from domain import approval, case
from domain.agenda import AgendaItem, case_agenda, cutoff
from domain.approval import ChainState
from domain.case import CaseState
from domain.clock import PlanClock
from domain.events import Event, upcast
from domain.plan import plan_hash
from domain.replay import CaseAt, replay
from domain.roles import Actor, CaseScope
from tests.workflows.support import BASELINE, CLEAN

PLAN = get_plan("tra-vinh-2025")
CLOCK = PlanClock()
SCOPE = CaseScope(province_code="84", district_code="844", commune_code="29269")
HISTORIES = Path(__file__).resolve().parent.parent / "histories"
TICK = timedelta(milliseconds=10)


def person(role: str) -> Actor:
    data: dict[str, Any] = {"person_id": f"p-{role}", "role": role, "province_code": "84"}
    if role.startswith("district_") or role == "commune_ubnd":
        data["district_code"] = "844"
    if role == "commune_ubnd":
        data["commune_code"] = "29269"
    return Actor(**data)


def day(d: date, hours: int = 9) -> datetime:
    return CLOCK.day_start(PLAN, d) + timedelta(hours=hours)


@dataclass(frozen=True)
class Recorded:
    version: int
    type: str
    payload: dict[str, Any]
    recorded_at: datetime


@dataclass(frozen=True)
class Step:
    at: datetime
    state: CaseState
    chain: ChainState
    version: int


class Year:
    """A case run by the deciders, its events recorded as the store would."""

    def __init__(self) -> None:
        self.state, self.chain = CaseState(), ChainState()
        self.events: list[Recorded] = []
        self.steps: list[Step] = []

    def _record(self, now: datetime, events: list[Event]) -> None:
        if self.steps and now <= self.steps[-1].at:  # one batch, one transaction, one instant
            now = self.steps[-1].at + timedelta(milliseconds=1)
        for e in events:
            self.events.append(Recorded(len(self.events) + 1, e.TYPE, e.payload(), now))
        self.steps.append(Step(now, self.state, self.chain, len(self.events)))

    def case(self, command: case.Command, now: datetime) -> None:
        self.state, events = case.decide(PLAN, SCOPE, self.state, command, now, CLOCK)
        self._record(now, events)

    def decide(self, decision: approval.Submit | approval.Approve | approval.Reject,
               now: datetime) -> None:
        self.chain, events = approval.decide(PLAN.approval_chain, SCOPE, self.chain, decision)
        self._record(now, events)


def full_year() -> Year:
    """Opened, selected; the implementation plan on time, the phase 1 report missed then
    submitted late, the Q2 forum missed; the dossier; returned at the district's review in
    round 1, then recognised in round 2; the phase 3 report missed; closed recognised at the
    plan's end."""
    y = Year()
    y.case(case.Open(opened_by=person("district_ubnd"), baseline=BASELINE,
                     plan_hash=plan_hash(PLAN)), day(date(2025, 3, 1)))
    y.case(case.Select(actor=person("province_police"), selected=True), day(date(2025, 3, 20)))
    commune = person("commune_ubnd")

    def submit(deadline: str, metrics: dict[str, Any] | None = None) -> Callable[[datetime],
                                                                                 None]:
        return lambda now: y.case(case.Submit(actor=commune, deadline_id=deadline,
                                              metrics=metrics), now)

    def chain(now: datetime) -> None:
        y.decide(approval.Submit(actor=commune), now)
        now += TICK
        for level in PLAN.approval_chain:
            for role in level.roles:
                if y.chain.round == 1 and level.id == "district_review":
                    y.decide(approval.Reject(actor=person(role), level=level.id,
                                             reason="thiếu biên bản / minutes missing"), now)
                    now += timedelta(days=1)
                    y.decide(approval.Submit(actor=commune), now)
                    now += TICK
                    return chain_again(now)
                y.decide(approval.Approve(actor=person(role), level=level.id), now)
                now += timedelta(hours=1)

    def chain_again(now: datetime) -> None:
        for level in PLAN.approval_chain:
            for role in level.roles:
                y.decide(approval.Approve(actor=person(role), level=level.id), now)
                now += timedelta(hours=1)

    plan: list[tuple[datetime, Callable[[datetime], None]]] = [
        (day(date(2025, 3, 28)), submit("implementation_plan")),
        (day(date(2025, 5, 2)), submit("phase_1_report", CLEAN)),  # after its due day: late
        (day(date(2025, 7, 15)), submit("forum_q3")),
        (day(date(2025, 10, 20)), submit("phase_2_report", CLEAN)),
        (day(date(2025, 11, 18)), submit("dossier", CLEAN)),
        (day(date(2025, 11, 18), 10), chain),
    ]
    plan += [(item.at, _passing(y, item)) for item in case_agenda(PLAN, CLOCK)]
    for when, act in sorted(plan, key=lambda p: p[0]):
        act(when)
    y.case(case.ChainEnded(outcome="recognised"), cutoff(PLAN, CLOCK))
    return y


def _passing(y: Year, item: AgendaItem) -> Callable[[datetime], None]:
    return lambda now: y.case(case.Pass(item=item), now)


YEAR = full_year()


def agrees(r: CaseAt, s: Step) -> None:
    """The fold says what the deciders' states say."""
    st, ch = s.state, s.chain
    assert r.version == s.version
    assert (r.status, r.phase, r.selected, r.outcome) == (st.status, st.phase, st.selected,
                                                           st.outcome)
    assert r.classification == st.classification and r.criteria_met == st.criteria_met
    assert r.missed == st.missed and r.reasons == st.reasons
    states = {d.id: d.state for d in r.deadlines}
    for deadline, late in st.submitted.items():
        assert states[deadline] == ("late" if late else "met")
    for deadline in st.missed:
        assert states[deadline] in ("missed", "met", "late")
    pending = approval.pending_level(PLAN.approval_chain, ch)
    assert r.pending_level == (pending.id if pending else None)
    assert r.round == ch.round
    if ch.status in ("pending", "returned", "recognised"):
        assert r.chain == ch.status
    assert {sig.role: sig.person for sig in r.signed} == (ch.signatures if pending else {})


def test_the_fold_agrees_with_the_deciders_after_every_step() -> None:
    assert YEAR.state.outcome == "recognised" and len(YEAR.steps) > 40
    for step in YEAR.steps:
        agrees(replay(PLAN, YEAR.events, step.at), step)
        # the same instant, given as Viet Nam time
        assert replay(PLAN, YEAR.events, step.at.astimezone(
            CLOCK.day_start(PLAN, date(2025, 1, 1)).tzinfo)).version == step.version


def test_before_anything_was_recorded() -> None:
    r = replay(PLAN, YEAR.events, YEAR.events[0].recorded_at - timedelta(seconds=1))
    assert (r.version, r.status, r.timeline, r.total) == (0, "none", [], len(YEAR.events))
    assert all(d.state == "pending" for d in r.deadlines)


def _first(type_: str, **payload: Any) -> Recorded:
    return next(e for e in YEAR.events if e.type == type_
                and all(e.payload.get(k) == v for k, v in payload.items()))


def test_at_each_phase_boundary() -> None:
    for number in (1, 2, 3):
        start = _first("phase.started", phase=number).recorded_at
        before = replay(PLAN, YEAR.events, start - timedelta(microseconds=1))
        at = replay(PLAN, YEAR.events, start)
        assert before.phase == (number - 1 or None) and at.phase == number
        assert at.status == "in_phase"
        end = _first("phase.ended", phase=number).recorded_at
        assert replay(PLAN, YEAR.events, end).phase == (number if number == 3 else number + 1)
    # phase 1 ends at the instant phase 2 starts, after its due deadlines are recorded
    p1 = replay(PLAN, YEAR.events, _first("phase.ended", phase=1).recorded_at)
    assert p1.phase == 2
    rows = {d.id: d.state for d in p1.deadlines}
    assert rows["implementation_plan"] == "met" and rows["phase_1_report"] == "missed"
    assert rows["forum_q2"] == "pending"  # not due yet on 1 May
    late = _first("report.submitted", deadline_id="phase_1_report").recorded_at
    assert {d.id: d.state for d in replay(PLAN, YEAR.events, late).deadlines}[
        "phase_1_report"] == "late"  # missed, then submitted late
    q2_due = _first("deadline.missed", deadline_id="forum_q2").recorded_at
    assert replay(PLAN, YEAR.events, q2_due).missed == ["phase_1_report", "forum_q2"]
    assert replay(PLAN, YEAR.events, q2_due - TICK).missed == ["phase_1_report"]
    assert p1.metrics_purpose == "baseline" and p1.classification == "type_iii"
    assert p1.classification_reasons
    after = replay(PLAN, YEAR.events, late)  # the late phase 1 report carried metrics
    assert after.metrics_purpose == "report" and after.metrics_at == late
    assert after.classification != "type_iii"


def test_mid_chain_shows_the_pending_level_and_who_signed_per_round() -> None:
    signed = [e for e in YEAR.events if e.type == "level.signed"]
    # round 1: two of district_appraisal's three roles have signed
    r = replay(PLAN, YEAR.events, signed[1].recorded_at)
    assert (r.round, r.chain, r.pending_level) == (1, "pending", "district_appraisal")
    assert [s.person for s in r.signed] == ["p-district_police", "p-district_labour"]
    levels = {lv.id: lv.state for lv in r.levels}
    assert levels == {"district_appraisal": "pending", "district_review": "waiting",
                      "province_appraisal": "waiting", "province_decision": "waiting"}
    # returned at district_review in round 1, with the reason, then resubmitted
    rejected = _first("level.rejected")
    r = replay(PLAN, YEAR.events, rejected.recorded_at)
    assert (r.chain, r.pending_level, r.round) == ("returned", None, 1)
    assert [(x.level, x.reason) for x in r.rejections] == [
        ("district_review", "thiếu biên bản / minutes missing")]
    assert {lv.id: lv.state for lv in r.levels}["district_review"] == "returned"
    again = _first("dossier.resubmitted").recorded_at
    r = replay(PLAN, YEAR.events, again)
    assert (r.round, r.pending_level, r.signed) == (2, "district_appraisal", [])
    assert len(r.rounds) == 2 and r.rounds[0].rejected is not None
    assert sorted(r.rounds[0].signed["district_appraisal"], key=lambda s: s.role)[0].role == \
        "district_health"
    # round 2, half way: province_appraisal pending, one of its two roles signed
    half = [e for e in signed if e.payload["round"] == 2
            and e.payload["level"] == "province_appraisal"][0]
    r = replay(PLAN, YEAR.events, half.recorded_at)
    assert r.pending_level == "province_appraisal" and [s.role for s in r.signed] == [
        "province_police"]
    assert [lv.state for lv in r.levels] == ["approved", "approved", "pending", "waiting"]
    assert r.outcome is None and r.status == "in_recognition"


def test_the_end_of_the_year() -> None:
    r = replay(PLAN, YEAR.events)
    assert (r.status, r.outcome, r.chain, r.pending_level) == ("closed", "recognised",
                                                               "recognised", None)
    assert r.missed == ["phase_1_report", "forum_q2", "phase_3_report"]
    assert [lv.state for lv in r.levels] == ["approved"] * 4
    timing = {(t.type, t.details.split(";")[0]): t.timing for t in r.timeline
              if t.timing is not None}
    assert timing[("report.submitted", "deadline_id: phase_1_report")] == "late"
    assert timing[("report.submitted", "deadline_id: implementation_plan")] == "on_time"
    assert timing[("deadline.missed", "deadline_id: forum_q2")] == "missed"
    opened = r.timeline[0]
    assert (opened.actor, opened.role, opened.jurisdiction) == ("p-district_ubnd",
                                                                "district_ubnd", "84/844/29269")
    assert [t.version for t in r.timeline] == list(range(1, len(YEAR.events) + 1))


def test_a_naive_instant_is_refused() -> None:
    try:
        replay(PLAN, YEAR.events, datetime(2025, 6, 1))
    except ValueError:
        return
    raise AssertionError("a naive instant was accepted")


# -- a real run -------------------------------------------------------------------------------


def recorded_run(*names: str) -> list[Recorded]:
    """The events a run appended (its append activities' inputs, case and chain workflows
    merged in time order), read back as the store would: upcast, versions in order."""
    batches: list[tuple[str, list[dict[str, Any]]]] = []
    for name in names:
        history = json.loads((HISTORIES / f"{name}.json").read_text())
        for e in history["events"]:
            attrs = e.get("activityTaskScheduledEventAttributes")
            if attrs and attrs["activityType"]["name"] == "append_events":
                data = json.loads(base64.b64decode(attrs["input"]["payloads"][0]["data"]))
                batches.append((e["eventTime"], data["events"]))
    out: list[Recorded] = []
    for when, events in sorted(batches, key=lambda b: b[0]):
        at = datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(UTC)
        for e in events:
            _, payload = upcast(e["type"], e["schema_version"], e["payload"])
            out.append(Recorded(len(out) + 1, e["type"], payload, at))
    return out


def test_a_real_run_rejected_four_times_then_recognised() -> None:
    events = recorded_run("rejection_case", "rejection_recognition")
    r = replay(PLAN, events)
    assert (r.outcome, r.round, r.missed) == ("recognised", 5, ["phase_3_report"])
    assert [x.level for x in r.rejections] == ["district_appraisal", "district_review",
                                                "province_appraisal", "province_decision"]
    assert all(x.reason for x in r.rejections)
    assert [len(rd.approved) for rd in r.rounds] == [0, 1, 2, 3, 4]
    # these dossiers were written before first_level existed: the plan's first level stands in
    third = [e for e in events if e.type == "dossier.resubmitted"][1]
    assert third.payload["first_level"] is None
    mid = replay(PLAN, events, third.recorded_at)
    assert (mid.round, mid.pending_level, mid.signed) == (3, "district_appraisal", [])
    rejected = [e for e in events if e.type == "level.rejected"][2]
    before = replay(PLAN, events, rejected.recorded_at - timedelta(microseconds=1))
    assert before.pending_level == "province_appraisal" and before.chain == "pending"
    assert [lv.state for lv in before.levels][:2] == ["approved", "approved"]


def _versions(opening: str | None, *moves: tuple[str, str]) -> CaseAt:
    at = day(date(2025, 2, 1))
    opened = {"plan_id": PLAN.id, "commune_code": "29269", "district_code": "844",
              "province_code": "84", "opened_by": "p-d", "opened_by_role": "district_ubnd",
              **({"plan_hash": opening} if opening else {})}
    events = [Recorded(1, "case.opened", opened, at)] + [
        Recorded(2 + i, "case.amended", {"amendment": f"a{i}", "plan_before": before,
                                         "plan_after": after}, at + TICK * (i + 1))
        for i, (before, after) in enumerate(moves)]
    return replay(PLAN, events)


def test_the_plan_versions_a_case_ran_on_follow_from_its_opening() -> None:
    r = _versions("h0", ("h0", "h1"), ("h1", "h2"))
    assert (r.plan_at_opening, r.plan_hash, r.plan_versions_follow) == ("h0", "h2", True)
    assert [(a.plan_before, a.plan_after) for a in r.amendments] == [("h0", "h1"), ("h1", "h2")]
    # an amendment that did not start from the version the case was on is a break
    assert _versions("h0", ("h0", "h1"), ("h9", "h2")).plan_versions_follow is False
    assert _versions("h0", ("h5", "h1")).plan_versions_follow is False
    # an opening that did not record its version (case.opened v1): unknown, not assumed
    old = _versions(None, ("h0", "h1"))
    assert (old.plan_at_opening, old.plan_hash, old.plan_versions_follow) == (None, "h1", None)
