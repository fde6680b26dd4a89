"""Plans as data: the shipped plans match their sources, and inconsistent plans are refused.

Dates: ../shared/seeds/001_bb5719cd39510399.txt §III.2 and §V.1 (Trà Vinh 2025) and
003_6ef7dbea58ef7382.txt §V (Như Xuân 2024-2025). "Trước ngày X" (before X) is stored as
due X - 1 day; a deadline passes at local midnight after its due date (UTC+7).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from catalog import get_plan, load_plan_file, plan_ids
from domain.admin_units import registry
from domain.errors import InputError
from domain.plan import Plan, parse_plan, plan_problems
from domain.roles import ROLE_SCOPE

SHIPPED = ("tra-vinh-2025", "nhu-xuan-2024-2025", "ninh-binh-2026", "ninh-binh-2027")


def _utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=UTC)


# -- shipped plans ---------------------------------------------------------------------------


def test_the_three_plans_of_the_design_are_shipped() -> None:
    assert set(SHIPPED) <= set(plan_ids())


@pytest.mark.parametrize("plan_id", plan_ids())
def test_every_shipped_plan_loads_and_is_sound(plan_id: str) -> None:
    plan = get_plan(plan_id)
    assert plan.id == plan_id
    assert plan_problems(plan) == []
    # a plan travels as workflow input: it must survive both dict and JSON round trips
    assert parse_plan(plan.model_dump()) == plan
    assert parse_plan(json.loads(plan.model_dump_json())) == plan


@pytest.mark.parametrize("plan_id", plan_ids())
def test_shipped_plan_names_real_administrative_units(plan_id: str) -> None:
    plan = get_plan(plan_id)
    units = registry(plan.structure)
    assert units.province(plan.province_code)
    if plan.district_code is not None:
        assert units.district(plan.district_code).province_code == plan.province_code


def test_unknown_plan_id_lists_the_known_ones() -> None:
    with pytest.raises(InputError) as exc:
        get_plan("tra-vinh-2024")
    assert exc.value.code == "plan.unknown"
    assert "tra-vinh-2025" in exc.value.message


def test_tra_vinh_2025_calendar_follows_001() -> None:
    plan = get_plan("tra-vinh-2025")
    assert plan.structure == "legacy"
    assert plan.province_code == "84"
    assert plan.target.share == pytest.approx(0.20)  # §II.2.4: at least 20%
    assert plan.criteria_set == "tra-vinh-2025"

    # §III.2: three phases
    assert [(p.number, p.starts_on, p.ends_on) for p in plan.phases] == [
        (1, date(2025, 3, 30), date(2025, 4, 30)),  # after selection, to the end of April
        (2, date(2025, 5, 1), date(2025, 10, 31)),  # 1 May - 31 Oct
        (3, date(2025, 11, 1), date(2025, 12, 13)),  # 1 Nov - before 14 Dec
    ]

    def due(deadline_id: str) -> date:
        return plan.deadline(deadline_id).due

    # §III.2: district list "chậm nhất ngày 26/02/2025" (at the latest 26 Feb)
    assert plan.deadline("district_list").kind == "district_list"
    assert due("district_list") == date(2025, 2, 26)
    assert plan.deadline("district_list").role == "district_ubnd"
    # §III.2: selection "hoàn thành trước 30/3/2025" (before 30 Mar), by the provincial police
    assert [d.id for d in plan.deadlines_of("selection")] == ["selection"]
    assert due("selection") == date(2025, 3, 29)
    assert plan.deadline("selection").role == "province_police"
    # §V.1: implementation plan "trước ngày 31/3/2025" (before 31 Mar), from the commune
    assert due("implementation_plan") == date(2025, 3, 30)
    assert plan.deadline("implementation_plan").role == "commune_ubnd"
    # §V.1: a report at the end of each phase
    reports = {d.phase: d for d in plan.deadlines_of("phase_report")}
    assert set(reports) == {1, 2, 3}
    for phase in plan.phases:
        assert reports[phase.number].due == phase.ends_on
        assert reports[phase.number].role == "commune_ubnd"
    assert len(plan.deadlines_of("dossier")) == 1


def test_tra_vinh_2025_deadline_instants_are_utc_plus_7() -> None:
    plan = get_plan("tra-vinh-2025")
    assert plan.end_of_day(plan.deadline("district_list").due) == _utc(2025, 2, 26, 17)
    # "before 30 Mar" passes when 30 Mar begins in Viet Nam
    assert plan.end_of_day(plan.deadline("selection").due) == _utc(2025, 3, 29, 17)
    assert plan.local_midnight(date(2025, 3, 30)) == _utc(2025, 3, 29, 17)
    assert plan.end_of_day(plan.deadline("implementation_plan").due) == _utc(2025, 3, 30, 17)
    # phase 3 ends "before 14 Dec": the instant 14 Dec 00:00 in Viet Nam
    assert plan.end_of_day(plan.phases[2].ends_on) == _utc(2025, 12, 13, 17)
    assert plan.local_date(_utc(2025, 12, 13, 16, 59, 59)) == date(2025, 12, 13)
    assert plan.local_date(_utc(2025, 12, 13, 17)) == date(2025, 12, 14)
    # the year boundary: 31 Dec local ends at 17:00 UTC the same day
    assert plan.end_of_day(date(2025, 12, 31)) == _utc(2025, 12, 31, 17)


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("Asia/Ho_Chi_Minh", _utc(2025, 2, 26, 17)),
        ("Asia/Saigon", _utc(2025, 2, 26, 17)),
        ("UTC", _utc(2025, 2, 27, 0)),
    ],
)
def test_end_of_day_follows_the_plan_time_zone(timezone: str, expected: datetime) -> None:
    data = get_plan("tra-vinh-2025").model_dump()
    data["timezone"] = timezone
    assert parse_plan(data).end_of_day(date(2025, 2, 26)) == expected


def test_tra_vinh_2025_has_the_four_level_chain_of_001_iii_4() -> None:
    plan = get_plan("tra-vinh-2025")
    levels = [(lv.id, set(lv.roles)) for lv in plan.approval_chain]
    assert levels == [
        ("district_appraisal", {"district_police", "district_labour", "district_health"}),
        ("district_review", {"district_ubnd"}),
        ("province_appraisal", {"province_police", "province_department"}),
        ("province_decision", {"province_ubnd"}),
    ]
    assert plan.approval_chain[0].roles[0] == "district_police"  # the police chairs
    assert plan.level("province_decision").roles == ["province_ubnd"]


def test_nhu_xuan_has_two_phases_and_the_reports_of_003_v() -> None:
    plan = get_plan("nhu-xuan-2024-2025")
    assert (plan.province_code, plan.district_code) == ("38", "402")
    assert plan.structure == "legacy"
    assert plan.criteria_set == "thanh-hoa-2024"
    assert plan.target.share == 1.0 and plan.target.scope == "district"
    assert [(p.number, p.starts_on, p.ends_on) for p in plan.phases] == [
        (1, date(2024, 10, 1), date(2024, 12, 14)),  # from Oct 2024 to the end of 14 Dec 2024
        (2, date(2024, 12, 15), date(2025, 12, 31)),  # 15 Dec 2024 to the end of 31 Dec 2025
    ]
    reports = {d.phase: d.due for d in plan.deadlines_of("phase_report")}
    assert reports == {
        1: date(2024, 12, 9),  # "trước ngày 10/12/2024"
        2: date(2025, 11, 29),  # "trước ngày 30/11/2025"
    }
    assert plan.end_of_day(reports[1]) == _utc(2024, 12, 9, 17)
    assert plan.end_of_day(reports[2]) == _utc(2025, 11, 29, 17)
    # 003 §V.2: implementation plan "trước ngày 20/10/2024"
    assert plan.deadline("implementation_plan").due == date(2024, 10, 19)
    # 003 §IV: district police chairs the appraisal with labour and health
    assert [set(lv.roles) for lv in plan.approval_chain][0] == {
        "district_police",
        "district_labour",
        "district_health",
    }


@pytest.mark.parametrize("plan_id", ["ninh-binh-2026", "ninh-binh-2027"])
def test_two_level_plan_has_no_district(plan_id: str) -> None:
    plan = get_plan(plan_id)
    assert plan.structure == "current"
    assert not plan.has_districts
    assert plan.district_code is None
    assert plan.target.scope == "province"
    roles = [r for lv in plan.approval_chain for r in lv.roles]
    roles += [lv.escalate_to for lv in plan.approval_chain]
    roles += [r for d in plan.deadlines for r in (d.role, d.escalate_to)]
    assert [r for r in roles if ROLE_SCOPE[r] == "district"] == []
    assert len(plan.approval_chain) == 2
    assert set(plan.approval_chain[0].roles) == {"province_police", "province_department"}
    assert "district_list" not in {d.kind for d in plan.deadlines}


def test_a_plan_runs_in_real_time_after_it_was_shipped() -> None:
    """Ninh Bình 2027 (issue 9): a new user meets deadlines ahead, not ones that passed in 2025;
    the whole year lies after the day it was shipped (30/11/2026), same calendar as 2026."""
    plan, before = get_plan("ninh-binh-2027"), get_plan("ninh-binh-2026")
    shipped = date(2026, 11, 30)
    assert plan.province_code == before.province_code == "37"
    assert shipped < plan.starts_on <= min(d.due for d in plan.deadlines)
    assert max(d.due for d in plan.deadlines) <= plan.ends_on
    assert [(d.id, d.due.replace(year=2026)) for d in plan.deadlines] == [
        (d.id, d.due) for d in before.deadlines]
    assert plan.approval_chain == before.approval_chain


def test_legacy_plans_have_districts() -> None:
    assert get_plan("tra-vinh-2025").has_districts
    assert get_plan("nhu-xuan-2024-2025").has_districts


# -- inconsistent plans are refused ----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _refused(plan_id: str, mutate: Mutation) -> InputError:
    data = get_plan(plan_id).model_dump()
    mutate(data)
    with pytest.raises(InputError) as exc:
        parse_plan(data)
    assert exc.value.code == "plan.invalid"
    assert exc.value.message.startswith("plan")
    assert "plan plan" not in exc.value.message
    return exc.value


def _deadline(data: dict[str, Any], deadline_id: str) -> dict[str, Any]:
    return next(d for d in data["deadlines"] if d["id"] == deadline_id)


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _drop_deadline(deadline_id: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        data["deadlines"] = [d for d in data["deadlines"] if d["id"] != deadline_id]

    return mutate


def _swap_phase_dates(data: dict[str, Any]) -> None:
    # numbers stay 1, 2, 3 but phase 1 now runs after phase 2
    p1, p2 = data["phases"][0], data["phases"][1]
    p1["starts_on"], p2["starts_on"] = p2["starts_on"], p1["starts_on"]
    p1["ends_on"], p2["ends_on"] = p2["ends_on"], p1["ends_on"]


def _reverse_phases(data: dict[str, Any]) -> None:
    data["phases"].reverse()


def _duplicate_selection(data: dict[str, Any]) -> None:
    data["deadlines"].append({**_deadline(data, "selection"), "id": "selection_again"})


def _duplicate_deadline_id(data: dict[str, Any]) -> None:
    data["deadlines"].append({**_deadline(data, "forum_q2"), "due": date(2025, 7, 15)})


def _duplicate_level(data: dict[str, Any]) -> None:
    data["approval_chain"].append(dict(data["approval_chain"][-1]))


def _add_district_signer(data: dict[str, Any]) -> None:
    data["approval_chain"][0]["roles"].append("district_police")


def _district_role_deadline(data: dict[str, Any]) -> None:
    _deadline(data, "implementation_plan")["escalate_to"] = "district_ubnd"


def _drop_phase_2_report(data: dict[str, Any]) -> None:
    _drop_deadline("phase_2_report")(data)


# The provincial review council (Hội đồng xét duyệt) of a two-level plan: five members named
# by its founding decision, deciding by a majority of three.
COUNCIL = ["hd-1", "hd-2", "hd-3", "hd-4", "hd-5"]


def _council(**changes: Any) -> Mutation:
    """Ninh Bình's second level as a quorum vote of ``COUNCIL`` (k = 3), with ``changes``."""
    def mutate(data: dict[str, Any]) -> None:
        data["approval_chain"][1].update(rule="quorum", roles=["province_council"],
                                         members=list(COUNCIL), quorum=3)
        data["approval_chain"][1].update(changes)

    return mutate


REFUSALS: list[tuple[str, str, Mutation, str]] = [
    # (case, plan, mutation, what the message must name)
    ("phases overlap", "tra-vinh-2025", _set("phases.1.starts_on", date(2025, 4, 15)),
     "phases[1] (phase 2): overlaps or precedes phase 1"),
    ("phases touch on a day", "nhu-xuan-2024-2025", _set("phases.1.starts_on", date(2024, 12, 14)),
     "phases[1] (phase 2): overlaps or precedes phase 1"),
    ("phases out of order", "tra-vinh-2025", _swap_phase_dates,
     "phases[1] (phase 2): overlaps or precedes phase 1"),
    ("phases listed backwards", "tra-vinh-2025", _reverse_phases,
     "phases must be numbered 1..n in order"),
    ("phase misnumbered", "tra-vinh-2025", _set("phases.1.number", 5),
     "phases[1] (phase 5): phases must be numbered 1..n in order"),
    ("phase numbered from 0", "nhu-xuan-2024-2025", _set("phases.0.number", 0),
     "phases.0.number"),
    ("phase ends before it starts", "tra-vinh-2025", _set("phases.1.ends_on", date(2025, 4, 30)),
     "phases[1] (phase 2): ends_on 2025-04-30 is before starts_on 2025-05-01"),
    ("phase outside the plan", "tra-vinh-2025", _set("phases.2.ends_on", date(2026, 1, 10)),
     "phases[2] (phase 3): outside the plan period 2025-01-01..2025-12-31"),
    ("plan ends before it starts", "tra-vinh-2025", _set("ends_on", date(2024, 12, 31)),
     "ends_on: must be after starts_on"),
    ("deadline after the plan", "tra-vinh-2025",
     lambda d: _deadline(d, "dossier").update(due=date(2026, 1, 15)),
     "deadlines.dossier: due 2026-01-15 is outside the plan period 2025-01-01..2025-12-31"),
    ("deadline before the plan", "nhu-xuan-2024-2025",
     lambda d: _deadline(d, "selection").update(due=date(2024, 9, 30)),
     "deadlines.selection: due 2024-09-30 is outside the plan period"),
    ("level with no role", "tra-vinh-2025", _set("approval_chain.1.roles", []),
     "approval_chain[1] (district_review): a level needs at least one role"),
    ("duplicate role in a level", "tra-vinh-2025", _add_district_signer,
     "approval_chain[0] (district_appraisal): a role is listed twice"),
    ("commune signs a level", "tra-vinh-2025", _set("approval_chain.3.roles", ["commune_ubnd"]),
     "approval_chain[3] (province_decision): auditors and the commune itself do not sign"),
    ("auditor signs a level", "ninh-binh-2026", _set("approval_chain.1.roles", ["auditor"]),
     "approval_chain[1] (province_council): auditors and the commune itself do not sign"),
    ("unknown role", "tra-vinh-2025", _set("approval_chain.0.roles.0", "district_mayor"),
     "approval_chain.0.roles.0"),
    ("duplicate level id", "tra-vinh-2025", _duplicate_level,
     "approval_chain[4] (province_decision): duplicate level id"),
    ("empty chain", "tra-vinh-2025", _set("approval_chain", []),
     "approval_chain: at least one level is required"),
    ("district signer in a current plan", "ninh-binh-2026",
     _set("approval_chain.0.roles", ["province_police", "district_police"]),
     "approval_chain[0] (province_appraisal): district roles ['district_police'] do not exist"),
    ("district escalation in a current plan", "ninh-binh-2026", _district_role_deadline,
     "deadlines.implementation_plan: district roles ['district_ubnd'] do not exist"),
    ("district code in a current plan", "ninh-binh-2026", _set("district_code", "402"),
     "district_code: a current-structure (2025) plan has no districts"),
    ("legacy chain relabelled current", "tra-vinh-2025", _set("structure", "current"),
     "approval_chain[0] (district_appraisal): district roles"),
    ("district target in a current plan", "ninh-binh-2026", _set("target.scope", "district"),
     "target.scope"),
    ("district target without a district", "tra-vinh-2025", _set("target.scope", "district"),
     "target.scope"),
    ("missing selection deadline", "tra-vinh-2025", _drop_deadline("selection"),
     "deadlines: exactly one 'selection' deadline is required"),
    ("two selection deadlines", "tra-vinh-2025", _duplicate_selection,
     "deadlines: exactly one 'selection' deadline is required"),
    ("missing dossier deadline", "nhu-xuan-2024-2025", _drop_deadline("dossier"),
     "deadlines: exactly one 'dossier' deadline is required"),
    ("duplicate deadline id", "tra-vinh-2025", _duplicate_deadline_id,
     "deadlines.forum_q2: duplicate deadline id"),
    ("phase without a report", "tra-vinh-2025", _drop_phase_2_report,
     "deadlines: phase 2 has no end-of-phase report"),
    ("report for a phase that does not exist", "nhu-xuan-2024-2025",
     lambda d: _deadline(d, "phase_2_report").update(phase=3),
     "deadlines.phase_2_report: phase_report must name an existing phase"),
    ("forum outside any phase", "tra-vinh-2025",
     lambda d: _deadline(d, "forum_q2").update(phase=None),
     "deadlines.forum_q2: forum must name an existing phase"),
    ("no phases", "tra-vinh-2025", _set("phases", []),
     "phases: a plan needs at least one phase"),
    ("unknown timezone", "tra-vinh-2025", _set("timezone", "Europe/Paris"),
     "timezone: unsupported 'Europe/Paris'"),
    ("reminder on the due day", "tra-vinh-2025", _set("reminder_days_before", [7, 0]),
     "reminder_days_before: offsets must be positive days"),
    ("duplicate reminder", "tra-vinh-2025", _set("reminder_days_before", [1, 1]),
     "reminder_days_before: duplicate offsets"),
    ("unknown top-level field", "tra-vinh-2025", _set("budget_vnd", 1_000_000),
     "plan budget_vnd: Extra inputs are not permitted"),
    ("unknown field in a phase", "tra-vinh-2025", _set("phases.0.budget", 1),
     "plan phases.0.budget: Extra inputs are not permitted"),
    ("unknown field in a level", "tra-vinh-2025", _set("approval_chain.0.majority", 2),
     "plan approval_chain.0.majority: Extra inputs are not permitted"),
    ("unknown deadline kind", "tra-vinh-2025", _set("deadlines.0.kind", "party"),
     "plan deadlines.0.kind"),
    ("bad province code", "tra-vinh-2025", _set("province_code", "8"), "plan province_code"),
    ("level deadline of 0 days", "tra-vinh-2025", _set("approval_chain.0.deadline_days", 0),
     "plan approval_chain.0.deadline_days"),
    ("missing field", "tra-vinh-2025", lambda d: d.pop("approval_chain"),
     "plan approval_chain: Field required"),
    # level rules: a quorum level names its council and k; the other rules carry neither
    ("quorum level with no members", "ninh-binh-2026", _council(members=[]),
     "approval_chain[1] (province_council): members: a quorum level names its council's "
     "members"),
    ("quorum member listed twice", "ninh-binh-2026",
     _council(members=["hd-1", "hd-2", "hd-3", "hd-2"]),
     "approval_chain[1] (province_council): members: listed twice: hd-2"),
    ("quorum level without k", "ninh-binh-2026", _council(quorum=None),
     "approval_chain[1] (province_council): quorum: a quorum level needs k"),
    ("quorum of 0", "ninh-binh-2026", _council(quorum=0),
     "approval_chain[1] (province_council): quorum: 0 is not between 1 and the 5 members"),
    ("negative quorum", "ninh-binh-2026", _council(quorum=-2),
     "approval_chain[1] (province_council): quorum: -2 is not between 1 and the 5 members"),
    ("quorum above the members", "ninh-binh-2026", _council(quorum=6),
     "approval_chain[1] (province_council): quorum: 6 is not between 1 and the 5 members"),
    ("quorum of an empty council", "ninh-binh-2026", _council(members=[], quorum=1),
     "quorum: 1 is not between 1 and the 0 members"),
    ("empty member id", "ninh-binh-2026", _council(members=["hd-1", ""]),
     "plan approval_chain.1.members.1"),
    ("members of an all_of level", "tra-vinh-2025", _set("approval_chain.0.members", ["hd-1"]),
     "approval_chain[0] (district_appraisal): members: only a quorum level names members "
     "(rule is all_of)"),
    ("quorum of an all_of level", "tra-vinh-2025", _set("approval_chain.0.quorum", 2),
     "approval_chain[0] (district_appraisal): quorum: only a quorum level has a quorum "
     "(rule is all_of)"),
    ("members of an any_of level", "ninh-binh-2026",
     _council(rule="any_of", quorum=None),
     "approval_chain[1] (province_council): members: only a quorum level names members "
     "(rule is any_of)"),
    ("quorum of an any_of level", "ninh-binh-2026", _council(rule="any_of", members=[]),
     "approval_chain[1] (province_council): quorum: only a quorum level has a quorum "
     "(rule is any_of)"),
    ("unknown level rule", "tra-vinh-2025", _set("approval_chain.0.rule", "majority"),
     "plan approval_chain.0.rule"),
    ("quorum level with no role", "ninh-binh-2026", _council(roles=[]),
     "approval_chain[1] (province_council): a level needs at least one role"),
]


@pytest.mark.parametrize(
    ("plan_id", "mutate", "expected"),
    [pytest.param(p, m, e, id=case) for case, p, m, e in REFUSALS],
)
def test_inconsistent_plan_is_refused_naming_the_problem(
    plan_id: str, mutate: Mutation, expected: str
) -> None:
    error = _refused(plan_id, mutate)
    assert expected in error.message, error.message


def test_shipped_plans_keep_the_all_of_rule() -> None:
    # recorded histories were made with every role signing every level
    for plan_id in plan_ids():
        for lv in get_plan(plan_id).approval_chain:
            assert (lv.rule, lv.members, lv.quorum) == ("all_of", [], None), lv.id


@pytest.mark.parametrize("mutate", [
    _council(),
    _council(quorum=1),
    _council(quorum=5),
    _council(roles=["province_council", "province_ubnd"]),  # members may act in either role
    _set("approval_chain.0.rule", "any_of"),
], ids=["3 of 5", "1 of 5", "5 of 5", "two roles", "any_of"])
def test_sound_plans_with_other_level_rules_load_and_round_trip(mutate: Mutation) -> None:
    data = get_plan("ninh-binh-2026").model_dump()
    mutate(data)
    plan = parse_plan(data)
    assert plan_problems(plan) == []
    assert parse_plan(json.loads(plan.model_dump_json())) == plan


def test_every_rule_problem_of_a_level_is_reported_at_once() -> None:
    message = _refused("ninh-binh-2026", _council(members=["hd-1", "hd-1"], quorum=3)).message
    assert "members: listed twice: hd-1" in message
    assert "quorum: 3 is not between 1 and the 2 members" in message


def test_every_problem_is_reported_at_once() -> None:
    def two_problems(data: dict[str, Any]) -> None:
        data["timezone"] = "Asia/Tokyo"
        _drop_deadline("dossier")(data)

    message = _refused("tra-vinh-2025", two_problems).message
    assert "timezone: unsupported 'Asia/Tokyo'" in message
    assert "exactly one 'dossier' deadline" in message


@pytest.mark.parametrize("document", [None, [], "tra-vinh-2025", 42])
def test_parse_plan_refuses_what_is_not_a_plan_document(document: Any) -> None:
    with pytest.raises(InputError) as exc:
        parse_plan(document)
    assert exc.value.code == "plan.invalid"


def test_plan_model_itself_refuses_inconsistent_plans() -> None:
    data = get_plan("tra-vinh-2025").model_dump()
    data["timezone"] = "Mars/Olympus"
    with pytest.raises(ValidationError):
        Plan.model_validate(data)


def test_unknown_deadline_and_level_lookups() -> None:
    plan = get_plan("tra-vinh-2025")
    with pytest.raises(InputError) as exc:
        plan.deadline("phase_9_report")
    assert exc.value.code == "plan.unknown_deadline"
    with pytest.raises(InputError) as exc:
        plan.level("national_review")
    assert exc.value.code == "plan.unknown_level"


# -- plan files -------------------------------------------------------------------------------


def test_plan_file_round_trip(tmp_path: Path) -> None:
    plan = get_plan("nhu-xuan-2024-2025")
    path = tmp_path / "plan.json"
    path.write_text(plan.model_dump_json(), encoding="utf-8")  # JSON is valid YAML
    assert load_plan_file(path) == plan


def test_plan_file_with_a_bad_plan_is_invalid(tmp_path: Path) -> None:
    data = json.loads(get_plan("tra-vinh-2025").model_dump_json())
    data["phases"][2]["ends_on"] = "2026-02-01"
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_plan_file(path)
    assert exc.value.code == "plan.invalid"
    assert "phase 3" in exc.value.message


@pytest.mark.parametrize(("content", "code"), [(None, "document.unreadable"),
                                               ("phases: [unclosed\n", "document.syntax")])
def test_unreadable_plan_file(tmp_path: Path, content: str | None, code: str) -> None:
    path = tmp_path / "plan.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_plan_file(path)
    assert exc.value.code == code
    assert "plan.yaml" in exc.value.message


# -- pinned criteria and rule sets ------------------------------------------------------------


@pytest.mark.parametrize("plan_id", plan_ids())
def test_a_catalogue_plan_carries_the_sets_it_names(plan_id: str) -> None:
    plan = get_plan(plan_id)
    assert plan.criteria is not None and plan.criteria.id == plan.criteria_set
    assert plan.rules is not None and plan.rules.id == plan.classification_rules


@pytest.mark.parametrize(("field", "embedded"), [("criteria_set", "criteria"),
                                                 ("classification_rules", "rules")])
def test_embedded_sets_must_be_the_ones_named(field: str, embedded: str) -> None:
    data = get_plan("tra-vinh-2025").model_dump(mode="json")
    data[field] = "no-such-set"
    with pytest.raises(InputError) as info:
        parse_plan(data)
    message = info.value.message
    assert f"{embedded}.id" in message and field in message and "no-such-set" in message


def test_the_domain_keeps_no_registry_of_sets() -> None:
    # Whether an id exists is the catalogue's business (tests/catalog); a plan naming sets it
    # does not embed is sound as far as the domain can tell.
    data = get_plan("tra-vinh-2025").model_dump(mode="json", exclude={"criteria", "rules"})
    data["criteria_set"] = "ha-giang-2030"
    plan = parse_plan(data)
    assert plan.criteria is None and plan.rules is None and plan_problems(plan) == []
