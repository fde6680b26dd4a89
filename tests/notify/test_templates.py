"""Every notice the workflows send has words, in Vietnamese and in English."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from notify import templates
from notify.templates import CATALOGUE, render, template_names

BASE = {"commune": "84010", "plan": "tra-vinh-2025"}

# The parameters each workflow notice carries (workflows/conversion.py, recognition.py).
REALISTIC: dict[str, dict[str, str | int | bool]] = {
    "case_opened": BASE,
    "selected": BASE,
    "reminder": {**BASE, "deadline": "phase_1_report", "due": "2025-04-30", "days_before": 7},
    "deadline_missed": {**BASE, "deadline": "implementation_plan", "due": "2025-03-30"},
    "escalation": {**BASE, "deadline": "implementation_plan", "due": "2025-03-30"},
    "report_received": {**BASE, "deadline": "phase_2_report", "late": True},
    "decision_needed": {**BASE, "level": "district_appraisal"},
    "level_reminder": {**BASE, "level": "province_appraisal", "days_before": 2},
    "level_overdue": {**BASE, "level": "district_appraisal",
                      "unsigned": "district_labour,district_health"},
    "dossier_returned": {**BASE, "level": "province_appraisal"},
    "recognised": BASE,
    "case_recognised": BASE,
    "case_not_recognised": BASE,
    "case_not_selected": BASE,
    "case_withdrawn": BASE,
    "case_interrupted": BASE,
    "case_amended": {**BASE, "amendment": "tra-vinh-2025-reform", "effective_on": "2025-07-01"},
}

# The parameters each reporting round notice carries (workflows/reporting.py).
ROUND = {"plan": "son-la-action-month-2023", "unit": "district-116"}
ROUND_REALISTIC: dict[str, dict[str, str | int | bool]] = {
    "round_opened": {**ROUND, "round": "action-month", "due": "2023-07-03"},
    "unit_report_reminder": {**ROUND, "due": "2023-07-03", "days_before": 3},
    "unit_report_missed": {**ROUND, "due": "2023-07-03"},
    "unit_report_escalated": {**ROUND, "due": "2023-07-03"},
    "unit_report_received": {**ROUND, "late": True},
    "unit_report_returned": ROUND,
    "round_consolidated": {"plan": ROUND["plan"], "round": "action-month"},
    "round_approved": {"plan": ROUND["plan"]},
}


def test_the_catalogue_covers_every_workflow_notice_in_both_languages() -> None:
    assert template_names() == set(REALISTIC) | set(ROUND_REALISTIC)
    assert set(CATALOGUE["vi"]) == set(CATALOGUE["en"]) == set(REALISTIC) | set(ROUND_REALISTIC)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", sorted(ROUND_REALISTIC))
def test_every_round_template_renders_with_the_params_the_round_sends(name: str,
                                                                      lang: str) -> None:
    params = ROUND_REALISTIC[name]
    subject, body = render(name, params, lang, to_role="district_ubnd",
                           case_id="round:son-la-action-month-2023:action-month", strict=True)
    assert "son-la-action-month-2023" in subject and "\n" not in subject
    if "unit" in params:
        assert "district-116" in body
    assert "{{" not in subject + body


def test_every_outcome_has_its_closing_notice() -> None:
    """``domain.notices`` sends ``case_<outcome>`` when a case closes: each must have a text."""
    from typing import get_args

    from domain.events import Outcome

    assert {f"case_{o}" for o in get_args(Outcome)} <= template_names()


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", sorted(REALISTIC))
def test_every_template_renders_with_the_params_the_workflow_sends(name: str, lang: str) -> None:
    subject, body = render(name, REALISTIC[name], lang, to_role="commune_ubnd",
                           case_id="tra-vinh-2025/84010", strict=True)
    assert "84010" in subject and "\n" not in subject
    assert "84010" in body and "tra-vinh-2025/84010" in body
    assert "{{" not in subject + body and "_report" not in subject + body


def test_vietnamese_text_reads_like_the_plan() -> None:
    subject, body = render("reminder", REALISTIC["reminder"], to_role="commune_ubnd")
    assert subject == ("[tra-vinh-2025] Nhắc hạn: báo cáo kết quả giai đoạn 1 của xã 84010 "
                       "(còn 7 ngày)")
    assert body.startswith("Kính gửi: UBND cấp xã\n")
    assert "hạn ngày 30/04/2025" in body


def test_overdue_level_names_the_roles_that_have_not_signed() -> None:
    _, vi = render("level_overdue", REALISTIC["level_overdue"], "vi")
    _, en = render("level_overdue", REALISTIC["level_overdue"], "en")
    assert "Phòng Lao động - Thương binh và Xã hội, Trung tâm Y tế cấp huyện" in vi
    assert "District Labour, Invalids and Social Affairs Office, District Health Centre" in en


def test_late_and_on_time_reports_read_differently() -> None:
    late = render("report_received", REALISTIC["report_received"])[1]
    on_time = render("report_received", {**REALISTIC["report_received"], "late": False})[1]
    assert "sau thời hạn" in late and "đúng hạn" in on_time


def test_a_template_missing_in_vietnamese_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vi_only_missing = {k: v for k, v in CATALOGUE["vi"].items() if k != "escalation"}
    monkeypatch.setitem(CATALOGUE, "vi", vi_only_missing)
    subject, body = render("escalation", REALISTIC["escalation"], "vi", to_role="district_ubnd")
    assert subject == "[tra-vinh-2025] Escalation: commune 84010 missed implementation plan"
    assert body.startswith("To: District People's Committee\n")
    assert "30 March 2025" in body


def test_a_language_without_texts_gets_english() -> None:
    subject, _ = render("selected", BASE, "fr")
    assert subject == "[tra-vinh-2025] Commune 84010 selected for conversion"


@pytest.mark.parametrize("lang", ["vi", "en", "fr"])
def test_an_unknown_template_gives_a_generic_message(lang: str) -> None:
    subject, body = render("no_such_template", {"x": 1}, lang, case_id="tra-vinh-2025/84010")
    assert "tra-vinh-2025/84010" in subject and "tra-vinh-2025/84010" in body


def test_a_missing_param_raises_when_strict_and_degrades_otherwise() -> None:
    with pytest.raises(UndefinedError):
        render("reminder", BASE, strict=True)
    subject, _ = render("reminder", BASE, case_id="c1")
    assert subject == "Thông báo mới về hồ sơ c1"


def test_unknown_codes_are_shown_as_codes() -> None:
    params = {**REALISTIC["decision_needed"], "level": "commune_self_check"}
    assert "commune_self_check" in render("decision_needed", params)[0]
    assert templates._day("vi", "not-a-date") == "not-a-date"
