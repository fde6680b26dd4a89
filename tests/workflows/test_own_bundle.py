"""A province brings its own plan, criteria set and classification rule set as data files
(no Python), and a case runs on them end to end: selection, reports, a dossier judged by the
province's own criteria, then a chain whose provincial review council (Hội đồng xét duyệt)
decides by quorum (3 of 5 named members) and whose appraisal passes on any one department.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import catalog
from domain.admin_units import registry
from service import ServiceError
from tests.workflows.support import CLEAN, Case

pytestmark = pytest.mark.asyncio(loop_scope="session")

MEMBERS = ["hd-01", "hd-02", "hd-03", "hd-04", "hd-05"]
COMMUNE = "13285"  # a 2025 commune of Ninh Bình (37)

CRITERIA = """\
id: tinh-thu-2026-criteria
title_vi: Tiêu chí riêng của tỉnh (thử nghiệm)
title_en: The province's own criteria (test)
source: test data
criteria:
  - id: 1
    title_vi: Không có tụ điểm ma túy
    title_en: No drug hotspots
    source: test
    requirements:
      - {kind: none, field: hotspots}
  - id: 2
    title_vi: Dưới 5 người nghiện trong cộng đồng
    title_en: Fewer than 5 addicts in the community
    source: test
    requirements:
      - {kind: fewer_than, field: addicts_in_community, limit: 5}
"""

RULES = """\
id: tinh-thu-2026-rules
title_vi: Phân loại riêng của tỉnh (thử nghiệm)
title_en: The province's own classification (test)
source: test data
classes:
  - classification: type_i
    criteria:
      kind: at_least
      k: 1
      of:
        - {kind: compare, quantity: addicts_total, ge: 50}
  - classification: less_complex
    criteria:
      kind: at_least
      k: 1
      of:
        - {kind: compare, quantity: addicts_total, gt: 0}
        - {kind: compare, quantity: hotspots, gt: 0}
drug_free:
  kind: at_least
  k: 2
  of:
    - {kind: compare, quantity: addicts_total, le: 0}
    - {kind: compare, quantity: hotspots, le: 0}
"""


def plan_yaml() -> str:
    base = Path(catalog.__file__).resolve().parent.parent / "domain" / "plans"
    text = (base / "ninh-binh-2026.yaml").read_text(encoding="utf-8")
    head, _, _ = text.partition("approval_chain:")
    head = head.replace("id: ninh-binh-2026", "id: tinh-thu-2026")
    head = head.replace("criteria_set: tra-vinh-2025", "criteria_set: tinh-thu-2026-criteria")
    head = head.replace("classification_rules: tra-vinh-2025",
                        "classification_rules: tinh-thu-2026-rules")
    return head + textwrap.dedent(f"""\
        approval_chain:
          - {{id: appraisal, rule: any_of, roles: [province_police, province_department],
             deadline_days: 7, escalate_to: province_ubnd,
             name_vi: "Thẩm định (một cơ quan)", name_en: "Appraisal (any one body)"}}
          - {{id: council, rule: quorum, roles: [province_council], members: {MEMBERS},
             quorum: 3, deadline_days: 7, escalate_to: province_ubnd,
             name_vi: "Hội đồng xét duyệt tỉnh", name_en: "Provincial review council"}}
        """)


@pytest.fixture
def own_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for sub, name, text in (("plans", "tinh-thu-2026", plan_yaml()),
                            ("criteria_sets", "tinh-thu-2026-criteria", CRITERIA),
                            ("rule_sets", "tinh-thu-2026-rules", RULES)):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv(catalog.ENV_VAR, str(tmp_path))
    yield tmp_path


async def test_a_province_bundle_runs_a_case_end_to_end(
        own_catalog: Path, temporal: Any, worker: str, store: Any) -> None:
    assert [r.valid for r in catalog.validate_files(sorted(own_catalog.rglob("*.yaml")))] == \
        [True, True, True]
    plan = catalog.get_plan("tinh-thu-2026")
    assert plan.criteria is not None and plan.criteria.id == "tinh-thu-2026-criteria"
    client, env = temporal
    unit = registry(plan.structure).commune(COMMUNE)
    today = plan.local_date(await env.get_current_time())
    case = Case(client, env, "tinh-thu-2026", COMMUNE, None, unit.province_code, worker,
                today=today)
    case.plan = plan  # the catalogue of this test, not the shipped one
    baseline = {**CLEAN, "addicts_total": 60, "addicts_with_records": 60,
                "addicts_in_treatment": 60, "addicts_in_community": 60,
                "addicts_negative_test_30d": 60}
    handle = await case.start(baseline)
    assert (await handle.query("status"))["classification"] == "type_i"  # its own rules
    await case.select()
    await case.on_time_reports(plan.deadline("phase_2_report").due)
    await case.advance_to(plan.deadline("dossier").due - timedelta(days=3))
    # Its own criterion 2 (fewer than 5 addicts) fails where Trà Vinh's criteria do not care.
    failing = {**CLEAN, "addicts_total": 6, "addicts_with_records": 6,
               "addicts_in_treatment": 6, "addicts_in_community": 6,
               "addicts_negative_test_30d": 6}
    assert (await case.submit("dossier", failing)).criteria_met is False
    assert (await case.submit("dossier", CLEAN)).criteria_met is True

    # any_of: one department's approval passes the appraisal
    await case.decide("approve", case.actor("province_department"), "appraisal")
    st = await case.service.chain_status(case.ref)
    assert st is not None and st.pending_level == "council"
    assert st.awaiting == MEMBERS and st.standing is not None and st.standing.needed == 3

    def member(pid: str) -> Any:
        return case.actor("province_council", person=pid)

    # quorum: two objections are absorbed (5 - 3 = 2), a non-member is refused
    with pytest.raises(ServiceError) as err:
        await case.decide("approve", member("hd-99"), "council")
    assert err.value.code == "chain.not_member"
    await case.decide("reject", member("hd-01"), "council", "thiếu biên bản")
    await case.decide("reject", member("hd-02"), "council", "chưa đủ căn cứ")
    await case.decide("approve", member("hd-03"), "council")
    await case.decide("approve", member("hd-04"), "council")
    with pytest.raises(ServiceError) as err:
        await case.decide("approve", member("hd-04"), "council")
    assert err.value.code == "chain.already_signed"
    await case.decide("approve", member("hd-05"), "council")

    await case.advance_to(plan.deadline("phase_3_report").due - timedelta(days=1))
    await case.submit("phase_3_report", CLEAN)
    final = await handle.result()
    assert final.outcome == "recognised"
    events = await store.read(case.id)
    types = [e.type for e in events]
    assert types.count("level.voted") == 5 and "recognition.granted" in types
    criteria = [e.payload for e in events if e.type == "criteria.evaluated"]
    assert [c["criteria_set"] for c in criteria] == ["tinh-thu-2026-criteria"] * 2
    assert (await store.verify(case.id)).ok
