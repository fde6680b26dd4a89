"""The pages render what an amendment did: the case page's amendments section and its
transferred level, the dashboard's merged-communes rule and tables. Rendered straight from the
templates with the pages' own helpers (no server, no Temporal)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from domain.admin_units import registry
from domain.events import Event
from domain.replay import ReplayedEvent
from eventstore import RecordedEvent
from tests.amended_cases import amendment_event, at_district_review, case_id, reform
from web import dashboard, labels
from web.app import HERE
from web.casepage import facts
from web.i18n import Lang, day, moment, pick

AT = datetime(2025, 7, 1, 2, tzinfo=UTC)


def render(name: str, lang: Lang, **context: Any) -> str:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape())
    env.globals.update(day=day, moment=moment, labels=labels)
    who = SimpleNamespace(actor=SimpleNamespace(role="province_police", person_id="ca-86"))
    return env.get_template(name).render(
        lang=lang, t=lambda vi, en: pick(lang, vi, en), who=who, csrf="", demo=False,
        path="/ui/x", here="/ui/x", metric_label=lambda f: f,
        request=SimpleNamespace(query_params={}), **context)


def recorded(stream: str, events: list[Event]) -> list[ReplayedEvent]:
    return [RecordedEvent(i, stream, i, f"e{i}", e.TYPE, e.SCHEMA_VERSION, AT, e.payload(),
                          b"", b"") for i, e in enumerate(events, start=1)]


def case_page(lang: Lang) -> str:
    plan = reform()[0]
    stream = case_id("29326")
    # district appraisal signed by the police only, then the reform: its sign-off moves on
    folded = facts(plan, recorded(stream, [*at_district_review("29326")[:-1],
                                           amendment_event("29326", "district_appraisal")]))
    view = SimpleNamespace(case=SimpleNamespace(outcome=None, status="in_recognition", phase=1,
                                                reasons=[], classification=None), chain=None)
    return render("case.html", lang, view=view, facts=folded, plan=plan, version=None,
                  commune=registry("current").commune("29329"), district=None, done=None,
                  verified=None, case_id=stream, form_error=None, can_decide=False, idem="k")


def test_the_case_page_lists_the_amendment_and_the_transfer() -> None:
    page = case_page("vi")
    section = page[page.index('id="amendments"'):page.index('id="tl-h"')]
    assert "Trà Vinh 2025: áp dụng mô hình chính quyền hai cấp" in section
    assert "2025-07-01" in section and "Law 72/2025/QH15" in section
    assert "ubnd-86" in section
    assert "chuyển giao" in section
    assert "Xã Phong Thạnh (29329)" in section and "tỉnh 86" in section
    chain = page[page.index('id="chain-h"'):]
    assert 'class="level-transferred">Đã chuyển giao' in chain  # district_appraisal
    assert 'class="level-pending">Đang chờ' in chain  # now at province_appraisal
    assert "Áp dụng văn bản sửa đổi" in page  # the timeline names the event
    english = case_page("en")
    assert "Amendments applied" in english and "transferred" in english


def test_the_dashboard_page_states_the_rule_and_the_count() -> None:
    plan, amendment, _, units = reform()
    rule = amendment.changes.merged_communes
    assert rule is not None
    rows = [{"stream": "a", "commune_code": "29317", "legacy_commune_code": "29317",
             "legacy_district_code": "845", "state": "recognised", "outcome": "recognised"},
            {"stream": "b", "commune_code": "29320", "district_code": "845",
             "state": "in_recognition"}]
    m = dashboard.merge(rule, amendment.id, list(units), units, rows, {"a": plan.starts_on})
    d = dashboard.Dashboard(plan=plan, area="Tỉnh Trà Vinh → Vĩnh Long", communes=41,
                            need=9, counts={"recognised": 1, "in_recognition": 1},
                            by="merged", lines=m.districts, recognitions=[],
                            first_day=plan.starts_on, last_day=plan.ends_on, merged=m)
    cases: list[tuple[Lang, list[str]]] = [("vi", ["tất cả các khu vực xã cũ", "41 xã mới = 9",
                                "Theo khu vực huyện cũ", "Huyện Cầu Kè", "Xã An Phú Tân",
                                "Chưa đạt"]),
                        ("en", ["every constituent former commune", "41 new communes = 9",
                                "By former district", "Does not count yet"])]
    for lang, words in cases:
        header, table = dashboard.table(d, lang)
        merged = {"districts": dashboard.district_table(d, lang),
                  "rule": dashboard.rule_text(m, lang), "target": dashboard.target_text(d, lang)}
        page = render("dashboard.html", lang, d=d, plans=[plan], header=header, rows=table,
                      merged=merged, name_of=lambda c, lang=lang: dashboard.category_name(c, lang),
                      can_approve=False, q="plan=tra-vinh-2025")
        for w in words:
            assert w in page, (lang, w)
        assert 'id="merged-rule"' in page and amendment.id in page
        assert "<strong>0</strong> / 9" in page  # An Phú Tân: one of two areas recognised
