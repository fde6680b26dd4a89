"""Amendments (issue 12, first step): the amended plan, each refusal named, and what an
amendment would change for one running case (``domain.amendment``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from catalog import get_amendment, get_plan
from catalog.units_2025 import units_2025
from domain.amendment import Amendment, amend
from domain.amendment_effect import case_effect
from domain.errors import InputError
from domain.plan import Plan
from domain.replay import replay
from domain.roles import ROLE_SCOPE

PLAN = get_plan("tra-vinh-2025")
REFORM = get_amendment("tra-vinh-2025-reform")
UNITS = units_2025().convert_province("84")
AMENDED = amend(PLAN, REFORM, UNITS)


# -- the amended plan --------------------------------------------------------------------------

def test_the_shipped_amendment_cites_its_sources() -> None:
    assert REFORM.amends == ["tra-vinh-2025"] and REFORM.effective_on == date(2025, 7, 1)
    docs = {s.document for s in REFORM.sources}
    assert {"Law 72/2025/QH15", "Decree 184/2025/NĐ-CP", "001_bb5719cd39510399.txt"} <= docs
    changes = REFORM.changes
    assert all("Decree 184/2025/NĐ-CP" in r.source for r in changes.levels.remove)
    assert all("Decree 184/2025/NĐ-CP" in r.source for r in changes.roles)
    assert changes.structure is not None and "72/2025/QH15" in changes.structure.source


def test_the_amended_tra_vinh_plan_is_two_level_in_vinh_long() -> None:
    assert isinstance(AMENDED, Plan)
    assert (AMENDED.id, AMENDED.structure, AMENDED.province_code, AMENDED.district_code) == (
        "tra-vinh-2025", "current", "86", None)
    # commune -> provincial police appraisal with departments -> provincial People's Committee
    assert [(lv.id, lv.roles) for lv in AMENDED.approval_chain] == [
        ("province_appraisal", ["province_police", "province_department"]),
        ("province_decision", ["province_ubnd"])]
    roles = {r for d in AMENDED.deadlines for r in (d.role, d.escalate_to)}
    roles |= {r for lv in AMENDED.approval_chain for r in (*lv.roles, lv.escalate_to)}
    assert not [r for r in roles if ROLE_SCOPE[r] == "district"]
    assert {d.escalate_to for d in AMENDED.deadlines} == {"province_ubnd"}
    # dates are the plan's own: the amendment moves none
    assert [d.due for d in AMENDED.deadlines] == [d.due for d in PLAN.deadlines]
    assert AMENDED.criteria == PLAN.criteria and AMENDED.rules == PLAN.rules
    assert "tra-vinh-2025-reform" in AMENDED.source


def _amendment(**changes: Any) -> Amendment:
    doc: dict[str, Any] = {
        "id": "test-amendment", "title_vi": "Thử", "title_en": "Test",
        "amends": ["tra-vinh-2025"], "effective_on": "2025-07-01",
        "sources": [{"document": "test data"}], "changes": changes}
    return Amendment.model_validate(doc)


REMOVE_DISTRICT = {"remove": [
    {"level": "district_appraisal", "inherited_by": "province_appraisal", "source": "test"},
    {"level": "district_review", "inherited_by": "province_appraisal", "source": "test"}]}


def test_deadlines_moved_and_extended_roles_reassigned() -> None:
    a = _amendment(deadlines=[
        {"deadline": "dossier", "due": "2025-11-25", "source": "plan data"},
        {"deadline": "phase_2_report", "extend_days": 10, "source": "plan data"}],
        roles=[{"from": "district_ubnd", "to": "province_police", "source": "test"}])
    p = amend(PLAN, a)  # still legacy: no units needed
    assert p.deadline("dossier").due == date(2025, 11, 25)
    assert p.deadline("phase_2_report").due == date(2025, 11, 10)
    assert p.deadline("phase_1_report").escalate_to == "province_police"
    assert p.level("district_appraisal").escalate_to == "province_police"
    assert p.structure == "legacy"


def test_levels_added_replaced_and_edited() -> None:
    council = {"id": "province_council", "roles": ["province_council"], "deadline_days": 7,
               "escalate_to": "province_ubnd", "name_vi": "Hội đồng xét duyệt tỉnh",
               "name_en": "Provincial review council"}
    a = _amendment(levels={
        **REMOVE_DISTRICT,
        "add": [{"after": "province_appraisal", "level": council, "source": "test"}],
        "edit": [{"level": "province_decision", "deadline_days": 3, "source": "test"}]},
        roles=[{"from": "district_ubnd", "to": "province_ubnd", "source": "test"}],
        structure={"to": "current", "source": "test"})
    p = amend(PLAN, a, UNITS)
    assert [lv.id for lv in p.approval_chain] == [
        "province_appraisal", "province_council", "province_decision"]
    assert p.level("province_decision").deadline_days == 3
    replaced = _amendment(levels={"replace": [{"level": "district_review", "by": {
        **council, "id": "province_review", "roles": ["province_ubnd"]}, "source": "test"}]})
    assert [lv.id for lv in amend(PLAN, replaced).approval_chain] == [
        "district_appraisal", "province_review", "province_appraisal", "province_decision"]


# -- refusals, each naming the thing -----------------------------------------------------------

@pytest.mark.parametrize(("changes", "code", "named"), [
    ({"levels": {"remove": [{"level": "district_council", "inherited_by": "province_appraisal",
                             "source": "test"}]}}, "amendment.unknown_level", "district_council"),
    ({"levels": {"remove": [{"level": "district_review", "inherited_by": "nowhere",
                             "source": "test"}]}}, "amendment.unknown_level", "nowhere"),
    ({"levels": {"remove": [{"level": "province_appraisal", "inherited_by": "district_review",
                             "source": "test"}]}},
     "amendment.inherit_backwards", "district_review"),
    ({"roles": [{"from": "district_chief", "to": "province_ubnd", "source": "test"}]},
     "amendment.unknown_role", "district_chief"),
    ({"roles": [{"from": "district_ubnd", "to": "governor", "source": "test"}]},
     "amendment.unknown_role", "governor"),
    ({"roles": [{"from": "province_council", "to": "province_ubnd", "source": "test"}]},
     "amendment.unknown_role", "province_council"),
    ({"levels": {"edit": [{"level": "district_review", "remove_roles": ["district_ubnd"],
                           "source": "test"}]}}, "amendment.empty_level", "district_review"),
    ({"levels": {"edit": [{"level": "district_review", "add_roles": ["mayor"],
                           "source": "test"}]}}, "amendment.unknown_role", "mayor"),
    ({"deadlines": [{"deadline": "phase_4_report", "extend_days": 3, "source": "test"}]},
     "amendment.unknown_deadline", "phase_4_report"),
    ({"deadlines": [{"deadline": "selection", "extend_days": 3, "source": "test"}]},
     "amendment.deadline_passed", "selection"),
    ({"levels": REMOVE_DISTRICT, "roles": [
        {"from": "district_ubnd", "to": "province_ubnd", "source": "test"}],
      "structure": {"to": "current", "province_code": "99", "source": "test"}},
     "amendment.unknown_code", "99"),
    ({"levels": REMOVE_DISTRICT, "roles": [
        {"from": "district_ubnd", "to": "province_ubnd", "source": "test"}],
      "structure": {"to": "current", "province_code": "82", "source": "test"}},
     "amendment.province_mismatch", "86"),
    # districts gone but a district role left: the plan's own check, named
    ({"levels": REMOVE_DISTRICT, "structure": {"to": "current", "source": "test"}},
     "amendment.invalid_plan", "district_ubnd"),
])
def test_refusals_name_what_is_wrong(changes: dict[str, Any], code: str, named: str) -> None:
    with pytest.raises(InputError) as exc:
        amend(PLAN, _amendment(**changes), UNITS)
    assert exc.value.code == code
    assert named in exc.value.message and named in exc.value.text("vi")
    assert exc.value.text("vi") != exc.value.message


def test_an_amendment_for_another_plan_or_outside_the_plan_is_refused() -> None:
    other = _amendment().model_copy(update={"amends": ["nhu-xuan-2024-2025"]})
    with pytest.raises(InputError) as exc:
        amend(PLAN, other)
    assert exc.value.code == "amendment.other_plan" and "tra-vinh-2025" in exc.value.message
    late = _amendment().model_copy(update={"effective_on": date(2026, 1, 1)})
    with pytest.raises(InputError) as exc:
        amend(PLAN, late)
    assert exc.value.code == "amendment.outside_plan" and "2026-01-01" in exc.value.message


def test_switching_structure_needs_the_conversion() -> None:
    with pytest.raises(InputError) as exc:
        amend(PLAN, REFORM)
    assert exc.value.code == "amendment.units_required"


# -- the effect on one running case ------------------------------------------------------------

@dataclass(frozen=True)
class Ev:
    version: int
    type: str
    payload: dict[str, Any]
    recorded_at: datetime


def events(*steps: tuple[str, dict[str, Any]]) -> list[Ev]:
    start = datetime(2025, 2, 20, 2, tzinfo=UTC)
    return [Ev(i + 1, t, p, start + timedelta(days=i)) for i, (t, p) in enumerate(steps)]


OPENED = ("case.opened", {"plan_id": "tra-vinh-2025", "province_code": "84",
                          "district_code": "844", "commune_code": "29266",
                          "opened_by": "p-du", "opened_by_role": "district_ubnd"})
IN_PHASE_2 = [OPENED, ("selection.approved", {"decided_by": "p-pp", "role": "province_police"}),
              ("phase.started", {"phase": 1}),
              ("report.submitted", {"deadline_id": "implementation_plan", "late": False,
                                    "submitted_by": "p-cu"}),
              ("report.submitted", {"deadline_id": "phase_1_report", "late": False,
                                    "submitted_by": "p-cu"}),
              ("phase.started", {"phase": 2})]
DOSSIER = [*IN_PHASE_2, *[("report.submitted", {"deadline_id": d, "late": False,
                                                  "submitted_by": "p-cu"})
                          for d in ("forum_q2", "forum_q3", "phase_2_report")],
           ("phase.started", {"phase": 3}),
           ("criteria.evaluated", {"met": True, "results": []}),
           ("dossier.submitted", {"round": 1, "first_level": "district_appraisal",
                                  "submitted_by": "p-cu"})]


def effect(steps: list[tuple[str, dict[str, Any]]]) -> Any:
    case = replay(PLAN, events(*steps))
    return case_effect(PLAN, AMENDED, REFORM, "conversion:tra-vinh-2025:29266", case, UNITS)


def test_mid_phase_reminders_and_escalations_go_to_the_new_roles() -> None:
    e = effect(IN_PHASE_2)
    assert e.changes and not e.closed and e.phase == 2 and e.pending is None
    moved = {d.deadline: d for d in e.deadlines}
    # outstanding and due from 1 July only: the implementation plan and phase 1 report are
    # in, and the Q2 forum (due 30 June) passed under the old rules
    assert set(moved) == {"forum_q3", "phase_2_report", "dossier", "phase_3_report"}
    assert all((d.role_before, d.role_after) == ("commune_ubnd", "commune_ubnd")
               for d in moved.values())
    assert all((d.escalate_before, d.escalate_after) == ("district_ubnd", "province_ubnd")
               for d in moved.values())
    assert all(d.due_before == d.due_after for d in moved.values())
    assert e.codes is not None
    assert (e.codes.commune_before, e.codes.district_before, e.codes.province_before) == (
        "29266", "844", "84")
    assert (e.codes.commune_after, e.codes.commune_name_after, e.codes.province_after) == (
        "29266", "Xã Càng Long", "86")
    assert not e.codes.split


def test_mid_chain_a_pending_district_level_is_transferred_signatures_kept() -> None:
    steps = [*DOSSIER,
             ("level.signed", {"round": 1, "level": "district_appraisal", "reviewer": "p-dp",
                               "role": "district_police"}),
             ("level.signed", {"round": 1, "level": "district_appraisal", "reviewer": "p-dl",
                               "role": "district_labour"})]
    e = effect(steps)
    p = e.pending
    assert p is not None and e.changes
    assert (p.level_before, p.level_after, p.transferred) == (
        "district_appraisal", "province_appraisal", True)
    assert p.awaiting_before == ["district_health"]
    assert p.awaiting_after == ["province_police", "province_department"]
    assert [(s.level, s.role, s.person) for s in p.signatures_kept] == [
        ("district_appraisal", "district_police", "p-dp"),
        ("district_appraisal", "district_labour", "p-dl")]
    # the dossier deadline is in: only the phase 3 report is outstanding
    assert [d.deadline for d in e.deadlines] == ["phase_3_report"]


def test_a_pending_district_review_after_an_approved_appraisal() -> None:
    steps = [*DOSSIER, *[
        ("level.signed", {"round": 1, "level": "district_appraisal", "reviewer": f"p-{r}",
                          "role": r})
        for r in ("district_police", "district_labour", "district_health")],
        ("level.approved", {"round": 1, "level": "district_appraisal",
                            "next_level": "district_review"})]
    p = effect(steps).pending
    assert p is not None
    assert (p.level_before, p.level_after, p.transferred) == (
        "district_review", "province_appraisal", True)
    assert p.awaiting_before == ["district_ubnd"]
    assert len(p.signatures_kept) == 3


def test_a_pending_provincial_level_stays_where_it_is() -> None:
    steps = [*DOSSIER, ("level.approved", {"round": 1, "level": "district_appraisal",
                                           "next_level": "district_review"}),
             ("level.approved", {"round": 1, "level": "district_review",
                                 "next_level": "province_appraisal"}),
             ("level.signed", {"round": 1, "level": "province_appraisal", "reviewer": "p-pp",
                               "role": "province_police"})]
    p = effect(steps).pending
    assert p is not None
    assert (p.level_before, p.level_after, p.transferred) == (
        "province_appraisal", "province_appraisal", False)
    assert p.awaiting_before == p.awaiting_after == ["province_department"]
    assert p.signed_after == ["province_police"]


def test_after_a_rejection_the_resubmission_follows_the_new_chain() -> None:
    steps = [*DOSSIER, ("level.rejected", {"round": 1, "level": "district_appraisal",
                                           "reviewer": "p-dp", "role": "district_police",
                                           "reason": "thiếu biên bản"})]
    e = effect(steps)
    p = e.pending
    assert p is not None and e.changes
    assert (p.level_before, p.level_after) == (None, None)
    assert (p.resubmit_first_before, p.resubmit_first_after) == (
        "district_appraisal", "province_appraisal")


def test_a_closed_case_is_unchanged() -> None:
    e = effect([*IN_PHASE_2, ("case.withdrawn", {"reason": "x", "withdrawn_by": "p-du"}),
                ("case.closed", {"outcome": "withdrawn"})])
    assert e.closed and not e.changes and not e.deadlines and e.codes is None


def test_a_split_commune_is_reported_with_its_candidates() -> None:
    # Bến Tre's Xã Hòa Lộc (28924) was split; its plan is synthetic (Bến Tre has none here).
    case = replay(PLAN, events(("case.opened", {**OPENED[1], "province_code": "83",
                                                "district_code": "838",
                                                "commune_code": "28924"})))
    e = case_effect(PLAN, AMENDED, REFORM, "c", case, units_2025().convert_many(["28924"]))
    assert e.codes is not None and e.codes.split
    assert e.codes.commune_after == "28921"
    assert {(u.commune_code, u.default) for u in e.codes.candidates} == {
        ("29734", False), ("28921", True)}
