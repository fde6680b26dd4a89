"""The dashboard of a plan whose communes Trà Vinh's reform merged: cases grouped by former
district and new commune, a new commune recognised only when every constituent area is
(all_constituents), the target counting the 41 new communes. No Temporal: events appended and
projected, the amendment kept as the real run keeps it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any, cast

import pytest_asyncio
from temporalio.client import Client

from domain.amendment import MergedCommunes
from domain.events import Event
from domain.roles import Actor
from eventstore import EventStore, NewEvent, Projector
from eventstore.amendments import Amendments
from service.cases import CaseService
from service.frontdoor import FrontDoor
from service.plans import PlanBook
from tests.amended_cases import (
    AMENDER,
    amendment_event,
    at_district_review,
    case_id,
    recognised_after_reform,
    recognised_before_reform,
    reform,
)
from tests.conftest import Database
from web import dashboard

D1, D2 = date(2025, 6, 1), date(2025, 8, 1)


def test_all_constituents_one_recognised_is_not_enough_both_are() -> None:
    parts = ["29317", "29320"]
    one = {"29317": ("recognised", D1), "29320": ("in_recognition", None)}
    assert dashboard.new_commune_outcome("all_constituents", parts, one) == (False, None)
    both = {"29317": ("recognised", D2), "29320": ("recognised", D1)}
    assert dashboard.new_commune_outcome("all_constituents", parts, both) == (True, D2)
    never_opened = {"29317": ("recognised", D1)}
    assert dashboard.new_commune_outcome("all_constituents", parts, never_opened) == (False,
                                                                                      None)
    assert dashboard.new_commune_outcome("any_constituent", parts, one) == (True, D1)


def test_the_target_counts_the_new_communes() -> None:
    _, _, _, units = reform()
    assert len(units) == 104 and len({u.commune_code for u in units.values()}) == 41
    assert dashboard.merged_target(0.20, 41) == 9
    assert dashboard.merged_target(0.20, 104) == 21


def test_merge_groups_by_former_district_and_new_commune() -> None:
    _, amendment, _, units = reform()
    rule = amendment.changes.merged_communes
    assert rule is not None
    rows: list[dict[str, Any]] = [
        # An Phú Tân: one area amended and recognised, one recognised before the reform
        {"stream": "a", "commune_code": "29317", "legacy_commune_code": "29317",
         "legacy_district_code": "845", "state": "recognised", "outcome": "recognised"},
        {"stream": "b", "commune_code": "29320", "district_code": "845",
         "state": "recognised", "outcome": "recognised"},
        # Phong Thạnh: two of three areas recognised
        {"stream": "c", "commune_code": "29329", "legacy_commune_code": "29323",
         "legacy_district_code": "845", "state": "recognised", "outcome": "recognised"},
        {"stream": "d", "commune_code": "29329", "legacy_commune_code": "29326",
         "legacy_district_code": "845", "state": "recognised", "outcome": "recognised"},
        {"stream": "e", "commune_code": "29329", "legacy_commune_code": "29329",
         "legacy_district_code": "845", "state": "in_recognition"},
    ]
    m = dashboard.merge(rule, amendment.id, list(units), units, rows,
                        {"a": D2, "b": D1, "c": D1, "d": D1})
    by_code = {c.code: c for c in m.communes}
    assert len(by_code) == 41
    an_phu_tan, phong_thanh = by_code["29317"], by_code["29329"]
    assert (an_phu_tan.name, an_phu_tan.constituents) == ("Xã An Phú Tân", ["29317", "29320"])
    assert (an_phu_tan.recognised, an_phu_tan.recognised_on) == (True, D2)
    assert an_phu_tan.former_districts == ["Huyện Cầu Kè"]
    assert phong_thanh.name == "Xã Phong Thạnh"
    assert (phong_thanh.recognised, phong_thanh.recognised_areas, phong_thanh.cases) == (
        False, 2, 3)
    assert m.recognised == 1
    cau_ke = next(line for line in m.districts if line.code == "845")
    assert cau_ke.name == "Huyện Cầu Kè"
    assert cau_ke.counts == {"recognised": 4, "in_recognition": 1}


def test_any_constituent_rule() -> None:
    _, amendment, _, units = reform()
    rule = MergedCommunes(recognition="any_constituent", target="legacy_areas", source="test")
    rows = [{"stream": "c", "commune_code": "29329", "legacy_commune_code": "29323",
             "state": "recognised", "outcome": "recognised"}]
    m = dashboard.merge(rule, amendment.id, list(units), units, rows, {"c": D1})
    assert [c.code for c in m.communes if c.recognised] == ["29329"]


async def _append(store: EventStore, stream: str, events: list[Event]) -> None:
    await store.append(stream, 0, [NewEvent(f"{stream}:{i}", e.TYPE, e.SCHEMA_VERSION,
                                            e.payload()) for i, e in enumerate(events)])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def door(migrated_database: Database) -> AsyncIterator[FrontDoor]:
    async with await EventStore.connect(migrated_database.app_url) as store:
        await Amendments(store.pool).keep(reform()[1], {"person_id": AMENDER.person_id})
        await _append(store, case_id("29317"), recognised_after_reform("29317"))
        await _append(store, case_id("29320"), recognised_before_reform("29320"))
        await _append(store, case_id("29323"), recognised_after_reform("29323"))
        await _append(store, case_id("29326"), [*at_district_review("29326"),
                                                amendment_event("29326", "district_review")])
        await Projector(store).catch_up()
        yield FrontDoor(CaseService(cast(Client, None), "unused", store), PlanBook(None))


async def test_the_dashboard_of_the_merged_plan(door: FrontDoor) -> None:
    for reader in (Actor(person_id="ca-86", role="province_police", province_code="86"),
                   Actor(person_id="ca-84", role="province_police", province_code="84")):
        d = await dashboard.build(door, reader, "tra-vinh-2025")
        assert d.merged is not None and d.by == "merged"
        assert (d.merged.recognition, d.merged.target) == ("all_constituents", "new_communes")
        assert (d.communes, d.need, d.recognised) == (41, 9, 1)  # An Phú Tân only
        assert d.counts["recognised"] == 3 and d.cases == 4
        assert [code for _, code in d.recognitions] == ["29317"]
        assert d.area == "Tỉnh Trà Vinh → Vĩnh Long"
        header, rows = dashboard.table(d, "vi")
        assert header[:3] == ["Khu vực huyện cũ", "Mã xã mới", "Xã mới"]
        row = next(r for r in rows if r[1] == "29317")
        assert row[2:] == ["Xã An Phú Tân", "29317 29320", "2", "2", "Đạt", row[-1]]
        assert next(r for r in rows if r[1] == "29329")[6] == "Chưa đạt"
        former_header, former = dashboard.district_table(d, "vi")
        assert former_header[:2] == ["Mã huyện cũ", "Khu vực huyện cũ"]
        assert ["845", "Huyện Cầu Kè"] == next(r for r in former if r[0] == "845")[:2]
        assert "tất cả" in dashboard.rule_text(d.merged, "vi")
        assert "41" in dashboard.target_text(d, "vi")
        assert "new communes" in dashboard.target_text(d, "en")
        csv = dashboard.csv_bytes(d, "en").decode("utf-8-sig")
        assert "Former district" in csv and "Xã Phong Thạnh" in csv
