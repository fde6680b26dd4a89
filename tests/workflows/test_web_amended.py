"""An amended case and its province's dashboard in a real browser (issue 12): Trà Vinh's
1 July 2025 reform applied to a case whose dossier waited at the district appraisal; the
provincial police of Vĩnh Long (86) finds it in the inbox, reads the amendment on the case page
(the district level transferred, the signature kept, the new commune) and signs; the province's
People's Committee reads the dashboard by former district and new commune, with the target
counted over the new communes. axe-core on both pages, screenshots. Commune 29401 (-> 29407
Xã Hưng Mỹ) is this module's only."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from catalog import load_amendment_file
from domain.identity import Signer
from service.amendments import amended
from tests.workflows.support import CLEAN, eventually, rid
from tests.workflows.web_support import accessible, browser, case_site, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["browser"]  # the fixture, used by name

ISSUER = Signer.from_seed(bytes(range(200, 232)))
REFORM = load_amendment_file(
    Path(__file__).resolve().parents[2] / "domain/amendments/tra-vinh-2025-reform.yaml")


async def test_an_amended_case_and_the_merged_dashboard(temporal: Any, worker: str,
                                                         store: Any, browser: Browser) -> None:
    async with case_site(temporal, worker, store, browser, ISSUER, "tra-vinh-2025",
                         "29401") as site:
        case = site.case
        await case.start()
        await case.select()
        await case.on_time_reports(date(2025, 4, 30))
        await case.advance_to(date(2025, 6, 10))
        assert (await case.submit("dossier", CLEAN)).criteria_met is True
        await case.decide("approve", case.actor("district_police"), "district_appraisal")
        _, _, units = amended(case.plan, REFORM)

        def after(role: str) -> Any:
            return case.actor(role, province_code="86", district_code=None, commune_code=None)

        ubnd = after("province_ubnd")
        assert (await case.service.amend(case.ref, ubnd, REFORM, units,
                                         request_id=rid())).detail == "scheduled"
        await case.advance_to(date(2025, 7, 1), hours=1)  # then wait: see test_amendments

        async def recorded() -> bool:
            return any(e.type == "case.amended" for e in await store.read(case.id))

        await eventually(recorded, within=30)
        await case.advance_to(date(2025, 7, 2))

        async def projected() -> bool:
            row = [r for r in await case.service.list_cases(case.plan.id)
                   if r.stream == case.id]
            return bool(row) and row[0].pending_level == "province_appraisal"

        await eventually(projected)
        police = await site.page_as(after("province_police"))
        await police.goto(f"{site.url}/ui/inbox")
        link = police.locator(f'a[href="/ui/cases/{case.id}"]')
        assert await link.count() == 1, await police.content()
        await link.first.click()
        await police.wait_for_url(f"**/ui/cases/{case.id}")
        section = police.locator("#amendments")
        text = await section.inner_text()
        assert REFORM.id in text and "2025-07-01" in text, text
        assert "district_appraisal" in text or "Thẩm định cấp huyện" in text, text
        assert "29407" in text, text
        await accessible(police)
        await section.scroll_into_view_if_needed()
        await screenshot(police, "case-amended")

        board = await site.page_as(ubnd)
        await board.goto(f"{site.url}/ui/dashboard?plan={case.plan.id}")
        body = await board.locator("main").inner_text()
        assert "Theo khu vực huyện cũ" in body and "Xã Hưng Mỹ" in body, body
        assert "41" in body and "9" in body, body
        await accessible(board)
        await board.locator("#former-h").scroll_into_view_if_needed()
        await screenshot(board, "dashboard-merged")

        await case.service.withdraw(case.ref, ubnd, "kết thúc thử nghiệm", request_id=rid())
        assert (await case.service.result(case.ref)).outcome == "withdrawn"
