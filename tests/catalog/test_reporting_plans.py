"""The shipped reporting plans (domain/reporting_plans/): they load, their units are the
documents' units, their rounds the documents' days, every item cites its seed; a province's
own file is found by id and checked by field (``drugfree plans validate``)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

import catalog
from catalog.store import shipped_root
from domain.errors import InputError
from domain.reporting import ReportingPlan, reporting_units, reports

SEEDS = {"tra-vinh-project-2-2022-2025": "000_d549ea4074743c8f.txt",
         "son-la-action-month-2023": "004_08b6a9b9527ec9ad.txt",
         "ninh-binh-programme-2030": "002_e340fb47985fa660.txt"}
FOLDER = shipped_root() / "reporting_plans"


def test_the_three_plans_are_shipped_and_valid() -> None:
    assert set(SEEDS) <= set(catalog.reporting_plan_ids())
    reports_ = catalog.validate_files(sorted(FOLDER.glob("*.yaml")))
    assert {(r.kind, r.id, r.valid) for r in reports_} >= {
        ("reporting", pid, True) for pid in SEEDS}
    catalog.warm()  # a worker's start loads them too
    for pid in SEEDS:
        plan = catalog.reporting_plan(pid)
        assert plan is catalog.reporting_plan(pid)  # cached
        assert catalog.load_reporting_plan_file(FOLDER / f"{pid}.yaml") == plan


@pytest.mark.parametrize("pid", sorted(SEEDS))
def test_every_item_cites_its_seed(pid: str) -> None:
    seed = SEEDS[pid]
    text = (FOLDER / f"{pid}.yaml").read_text(encoding="utf-8")
    assert seed in text.split("\nid:")[0]  # the header comment
    plan = catalog.reporting_plan(pid)
    cited = [plan.source, plan.units.source, *(u.source for u in plan.units.departments),
             *(f.source for f in plan.forms), *(r.source for r in plan.rounds)]
    for form in plan.forms:
        for i in form.indicators:
            cited.append(i.source)
            if i.target is not None:
                cited.append(i.target.source)
    assert all(seed in s for s in cited), [s for s in cited if seed not in s]
    assert all("§" in s for s in cited[1:] if s != plan.source)


@pytest.mark.parametrize("pid", sorted(SEEDS))
def test_every_figure_has_a_unit_that_reports_it(pid: str) -> None:
    plan = catalog.reporting_plan(pid)
    units = reporting_units(plan)
    for form in plan.forms:
        for i in form.indicators:
            assert i.computed or any(reports(i, u) for u in units), (form.id, i.id)
            assert not i.computed or i.aggregate == "share"
    (police,) = [u for u in plan.units.departments if u.role == "province_police"]
    assert police.id == "police"
    assert {u.role for u in plan.units.departments if u is not police} == {"province_department"}
    assert (plan.consolidator, plan.approver) == ("province_police", "province_ubnd")


def _count(plan: ReportingPlan) -> dict[str, int]:
    found: dict[str, int] = {}
    for u in reporting_units(plan):
        found[u.kind] = found.get(u.kind, 0) + 1
    return found


def test_tra_vinh_units_and_rounds() -> None:
    plan = catalog.reporting_plan("tra-vinh-project-2-2022-2025")
    assert (plan.structure, plan.province_code) == ("legacy", "84")
    # §IV.1-16: police, border guard, 10 departments and committees, 4 organisations asked
    # (đề nghị); §IV.17 and §II: 9 districts, and the communes (104 in the 2022 registry)
    assert _count(plan) == {"department": 16, "district": 9, "commune": 104}
    assert [u.id for u in plan.units.departments][:9] == [
        "police", "border-guard", "labour", "finance", "health", "information", "culture",
        "education", "agriculture"]
    assert [(r.id, r.kind, r.due, r.previous) for r in plan.rounds] == [
        ("yearly-2022", "yearly", date(2022, 11, 14), None),
        ("yearly-2023", "yearly", date(2023, 11, 14), "yearly-2022"),
        ("yearly-2024", "yearly", date(2024, 11, 14), "yearly-2023"),
        ("final-2025", "final", date(2025, 12, 14), "yearly-2024")]
    assert plan.adhoc_form == "tv-adhoc"
    form = plan.form("tv-yearly")
    targets = {i.id: (i.target.kind, i.target.value, i.target.strict)
               for i in form.indicators if i.target}
    assert targets == {
        "drug_crime_cases": ("change_at_least", 5.0, False),  # tăng 05%
        "drug_cases_resolved_share": ("at_least", 90.0, True),  # trên 90%
        "trafficking_reports_verified_share": ("at_least", 100.0, False),  # 100%
        "new_hotspots": ("at_most", 0.0, False)}  # không để hình thành
    assert form.indicator("new_hotspots").reported_by == ["district"]
    assert [s.id for s in form.sections if s.required] == ["results", "shortcomings"]


def test_son_la_units_and_round() -> None:
    plan = catalog.reporting_plan("son-la-action-month-2023")
    assert (plan.structure, plan.province_code) == ("legacy", "14")
    # §III.1-11: 13 departments and organisations (§III.8 names education and the youth
    # union); §III.14, §IV.1: the 12 districts and the city
    assert _count(plan) == {"department": 13, "district": 12}
    (rnd,) = plan.rounds
    assert (rnd.kind, rnd.opens_on, rnd.due) == ("campaign", date(2023, 6, 1), date(2023, 7, 3))
    assert plan.adhoc_form is None


def test_ninh_binh_units_and_rounds() -> None:
    plan = catalog.reporting_plan("ninh-binh-programme-2030")
    # the 2025 structure: province 37 (Ninh Bình with Hà Nam and Nam Định), no districts
    assert (plan.structure, plan.province_code) == ("current", "37")
    assert _count(plan) == {"department": 14, "commune": 129}
    assert plan.programme_years == [2026, 2027, 2028, 2029, 2030]
    assert [(r.year, r.previous) for r in plan.rounds] == [
        (2026, None), (2027, "yearly-2026"), (2028, "yearly-2027"), (2029, "yearly-2028"),
        (2030, "yearly-2029")]
    form = plan.form("nb-yearly")
    # §II.3 a-i each measured
    letters = {m for i in form.indicators for m in re.findall(r"§II\.3\.(\w)", i.source)}
    assert letters == {"a", "b", "c", "d", "đ", "e", "g", "h", "i"}
    share = form.indicator("commune_health_stations_able_share")
    assert share.target is not None and (share.target.value, share.target.strict) == (80.0, True)
    goal = form.indicator("drug_free").target
    assert goal is not None and goal.from_year == 2030


# -- a province's own file ----------------------------------------------------------------------

def _own(tmp_path: Path, text: str, name: str = "son-la-own.yaml") -> Path:
    folder = tmp_path / "province" / "reporting_plans"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _shipped(pid: str = "son-la-action-month-2023") -> str:
    return (FOLDER / f"{pid}.yaml").read_text(encoding="utf-8")


def test_a_provinces_own_reporting_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _own(tmp_path, _shipped().replace("id: son-la-action-month-2023", "id: son-la-own"))
    monkeypatch.setenv("DRUGFREE_CATALOG", str(tmp_path / "province"))
    assert "son-la-own" in catalog.reporting_plan_ids()
    assert catalog.reporting_plan("son-la-own").province_code == "14"
    with pytest.raises(InputError) as exc:
        catalog.reporting_plan("nowhere")
    assert exc.value.code == "reporting.unknown" and "son-la-own" in exc.value.message
    assert "không có kế hoạch báo cáo 'nowhere'" in exc.value.text("vi")


def _problems(path: Path) -> list[tuple[str, str]]:
    (report,) = catalog.validate_files([path])
    assert report.kind == "reporting" and not report.valid
    return [(p.field, p.message) for p in report.problems]


def test_validate_names_the_field_of_each_problem(tmp_path: Path) -> None:
    text = _shipped().replace("id: son-la-action-month-2023", "id: son-la-own")
    # a reported_by naming a unit the plan does not have
    bad = _own(tmp_path, text.replace("reported_by: [culture, district]",
                                      "reported_by: [culture, commune]"))
    assert _problems(bad) == [(
        "forms.0.indicators.3.reported_by",
        "'commune' is neither a department of the plan nor a level of its People's Committees")]
    # a round naming no form, and due before it opens (the model's own checks, placed)
    bad = _own(tmp_path, text.replace("form: sl-action-month,", "form: sl-other,"))
    assert _problems(bad) == [("rounds.0.form", "no form 'sl-other'")]
    bad = _own(tmp_path, text.replace("due: 2023-07-03", "due: 2023-05-03"))
    assert [f for f, _ in _problems(bad)] == ["rounds.0"]
    # due after the plan ends
    bad = _own(tmp_path, text.replace("ends_on: 2023-07-31", "ends_on: 2023-07-01"))
    assert _problems(bad) == [("rounds.0.due", "2023-07-03 is after the plan ends (2023-07-01)")]
    # a wrong type at its field
    bad = _own(tmp_path, text.replace("type: boolean", "type: yes_no"))
    assert [f for f, _ in _problems(bad)] == ["forms.0.indicators.0.type"]


def test_a_share_before_its_parts_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load(_shipped("tra-vinh-project-2-2022-2025"))
    data["id"] = "tv-own"
    indicators = data["forms"][0]["indicators"]
    share = indicators.pop(4)  # drug_cases_resolved_share, after its two parts
    assert share["id"] == "drug_cases_resolved_share"
    indicators.insert(0, share)
    del indicators[0]["computed"]
    path = _own(tmp_path, yaml.safe_dump(data, allow_unicode=True), "tv-own.yaml")
    assert _problems(path) == [
        ("forms.0.indicators.0.computed",
         "a share is computed from its parts: set computed: true"),
        ("forms.0.indicators.0.numerator", "'drug_cases_resolved' must come before the share "
                                           "in the form"),
        ("forms.0.indicators.0.denominator", "'drug_cases_total' must come before the share "
                                             "in the form")]
    with pytest.raises(InputError) as exc:
        catalog.Catalog([tmp_path / "province"]).reporting_plan("tv-own")
    assert exc.value.code == "reporting.invalid" and "forms.0.indicators.0.numerator" in str(
        exc.value)
