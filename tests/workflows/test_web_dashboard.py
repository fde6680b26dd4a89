"""The province dashboard and the recognition list page (issue 10) in a real browser (Debian's
Chromium, Playwright) over the real API process, workflows and read model: a campaign of three
communes taken to the province's last level through the service layer; the provincial People's
Committee reads the dashboard, approves the recognition list on its page, and the counts, the
chart (pygal's SVG) and the CSV change accordingly; axe-core on both pages; a screenshot of the
dashboard at 1366x768. Communes 29488, 29491 and 29494 (district 849) are this module's only."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from api.app import create_app
from domain.identity import Signer
from domain.roles import Actor
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, CLEAN, SIGNER, Case, serving
from tests.workflows.web_support import Browsing, accessible, browser, screenshot
from workflows import names

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["browser"]  # the fixture, used by name

PLAN = "tra-vinh-2025"  # a legacy plan: the province's table is per district
CHOSEN, WITHDRAWN, LEFT_OUT = "29488", "29491", "29494"  # district 849
ISSUER = Signer.from_seed(bytes(range(160, 192)))


class Site(Browsing):
    def __init__(self, url: str, cases: dict[str, Case], browser: Browser) -> None:
        super().__init__(url, browser, ISSUER)
        self.cases = cases

@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(temporal: Any, worker: str, store: Any, browser: Browser) -> AsyncIterator[Site]:
    client, env = temporal
    service = CaseService(client, worker, store, signer=SIGNER, clock=env.get_current_time)
    today = (await env.get_current_time()).date()
    cases = {}
    for code in (CHOSEN, WITHDRAWN, LEFT_OUT):
        cases[code] = Case(client, env, PLAN, code, "849", "84", worker, today=today)
        cases[code].service = service
    app = create_app(service, Authenticator(ISSUER.ring()),
                     clock_for=lambda _: cases[CHOSEN].clock)
    async with serving(app) as url:
        s = Site(url, cases, browser)
        yield s
        await s.close()


def totals(svg: str) -> set[int]:
    """The values of the running total's points in pygal's SVG (``<desc class="value">``
    of each dot: "dd/mm/yyyy: N"; the target line has no dots)."""
    return {int(v.rsplit(": ", 1)[1]) for v in re.findall(r'<desc class="value">([^<]*)<', svg)}


async def count(page: Page, url: str, category: str, expected: int) -> None:
    """The read model follows the record within moments: reload until the count is there."""
    cell = page.locator(f"#count-{category} td")
    for _ in range(100):
        await page.goto(url)
        if (await cell.inner_text()).strip() == str(expected):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{category} never reached {expected}: {await cell.inner_text()}")


async def test_the_province_approves_the_list_and_the_dashboard_follows(site: Site) -> None:
    first, other, left_out = (site.cases[c] for c in (CHOSEN, WITHDRAWN, LEFT_OUT))
    plan, service = first.plan, first.service
    campaign = names.campaign_id(PLAN)

    # the campaign: proposed by the district, two of three selected by the provincial police
    await service.start_campaign(plan, first.actor("province_ubnd"), clock=first.clock)
    district = first.actor("district_ubnd")
    reply = await service.propose(campaign, district, {c: BASELINE for c in site.cases})
    assert set(reply.results.values()) == {"ok"}
    await first.advance_to(plan.deadline("selection").due - timedelta(days=1))
    reply = await service.approve_selection(campaign, first.actor("province_police"),
                                            [CHOSEN, WITHDRAWN])
    assert set(reply.results.values()) == {"ok"}

    # both report on time, file their dossiers; every level but the province's signs
    for d in sorted(plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier") or \
                d.due > plan.deadline("dossier").due:
            continue
        await first.advance_to(d.due - timedelta(days=1))
        for case in (first, other):
            await case.submit(d.id, CLEAN if d.kind == "phase_report" else None)
    await first.advance_to(plan.deadline("dossier").due - timedelta(days=1))
    for case in (first, other):
        await case.submit("dossier", CLEAN)
        for level in plan.approval_chain[:-1]:
            await case.approve_level(level.id)

    # the provincial People's Committee reads its dashboard
    ubnd = await site.page_as(first.actor("province_ubnd"))
    board = f"{site.url}/ui/dashboard?plan={PLAN}"
    await count(ubnd, board, "in_recognition", 2)
    await expect(ubnd.locator("#count-not_selected td")).to_have_text("1")
    await expect(ubnd.locator("#count-recognised td")).to_have_text("0")
    await expect(ubnd.locator("#target")).to_contain_text("21 / 104")  # 20% of Trà Vinh's
    await expect(ubnd.locator("#chart-data")).to_contain_text("Chưa có xã nào")
    # the last phase report, due after the dossier, is owed by both (past due: the plan's
    # 2025 dates are behind today's)
    await expect(ubnd.locator("#overdue tbody tr")).to_have_count(2)
    await expect(ubnd.locator("#overdue")).to_contain_text("phase_3_report")
    # the chart is pygal's SVG, shown by the page (its own inline style, no script)
    assert await ubnd.locator("#chart").evaluate("img => img.complete && img.naturalWidth > 0")
    chart = await ubnd.request.get(f"{site.url}/ui/dashboard/chart.svg?plan={PLAN}")
    assert chart.ok and chart.headers["content-type"].startswith("image/svg+xml")
    before = (await chart.body()).decode()
    assert "pygal" in before and "<script" not in before
    assert totals(before) == {0}  # the running total has not risen yet
    await accessible(ubnd)

    # to the recognition list: both dossiers wait; the province approves one of them
    await ubnd.locator("#to-recognition").click()
    await ubnd.wait_for_url(f"**/ui/campaigns/{PLAN}/recognition")
    for _ in range(100):  # the last level reaches the committee's inbox within moments
        if await ubnd.locator(f"#c-{WITHDRAWN}").count():
            break
        await asyncio.sleep(0.2)
        await ubnd.reload()
    await expect(ubnd.get_by_label("Xã Hàm Giang", exact=False)).to_be_checked()
    await accessible(ubnd)
    await ubnd.get_by_label("Xã Đại An", exact=False).uncheck()
    form = ubnd.locator("#recognition-form")
    sent = {"csrf": await form.locator("input[name=csrf]").input_value(),
            "idem": await form.locator("input[name=idem]").input_value(),
            "communes": CHOSEN}
    list_url = f"{site.url}/ui/campaigns/{PLAN}/recognition"
    forged = await ubnd.request.post(list_url, form={**sent, "csrf": ""})
    assert forged.status == 403  # without its CSRF token the form changes nothing
    await ubnd.get_by_role("button", name="Phê duyệt các xã đã chọn").click()
    await expect(ubnd.locator(f"#result-{CHOSEN}")).to_contain_text("Đã phê duyệt công nhận")
    assert await ubnd.locator(f"#result-{WITHDRAWN}").count() == 0
    await accessible(ubnd)
    await screenshot(ubnd, "recognition-list")
    # the same form sent twice is the same request, answered as the first time
    again = await ubnd.request.post(list_url, form=sent)
    assert again.ok and "Đã phê duyệt công nhận" in await again.text()
    # a commune not on the campaign's list is refused in plain words, nothing sent for it
    refused = await ubnd.request.post(list_url, form={**sent, "idem": "other",
                                                      "communes": LEFT_OUT})
    assert refused.status == 422
    assert "chưa được lựa chọn" in await refused.text()

    # the other commune's case is withdrawn; the dashboard follows both
    await other.withdraw("rút để kiểm thử trang tổng quan")
    await count(ubnd, board, "recognised", 1)
    await count(ubnd, board, "withdrawn", 1)
    await expect(ubnd.locator("#count-in_recognition td")).to_have_text("0")
    await expect(ubnd.locator("#progress")).to_contain_text("1")
    await expect(ubnd.locator("#chart-data")).to_contain_text(CHOSEN)
    assert await ubnd.locator("#chart").evaluate("img => img.complete && img.naturalWidth > 0")
    after = (await (await ubnd.request.get(
        f"{site.url}/ui/dashboard/chart.svg?plan={PLAN}")).body()).decode()
    assert totals(after) == {0, 1}  # the running total rose to one
    # opened on its own, the SVG keeps its style (its own policy allows pygal's inline one)
    alone = await ubnd.context.new_page()
    await alone.goto(f"{site.url}/ui/dashboard/chart.svg?plan={PLAN}")
    assert await alone.evaluate(
        "getComputedStyle(document.querySelector('.plot > .background')).fill") \
        == "rgb(255, 255, 255)"
    await alone.close()
    await accessible(ubnd)
    await screenshot(ubnd, "dashboard")

    # the table as CSV: UTF-8 with a BOM, an attachment, one row for district 849
    async with ubnd.expect_download() as info:
        await ubnd.locator("#csv").click()
    download = await info.value
    assert download.suggested_filename.startswith(f"tong-quan-{PLAN}-")
    raw = await ubnd.request.get(f"{site.url}/ui/dashboard.csv?plan={PLAN}")
    assert "attachment" in raw.headers["content-disposition"]
    body = await raw.body()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, lines = rows[0], {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert header[:3] == ["Mã huyện", "Huyện", "Số xã"]
    assert lines["849"]["Được công nhận"] == "1" and lines["849"]["Đã rút"] == "1"
    assert lines["849"]["Không được lựa chọn"] == "1"
    assert all(r["Được công nhận"] == "0" for code, r in lines.items() if code != "849")

    # the district's People's Committee sees its own communes, one row each; an auditor
    # reads the province's dashboard but approves nothing
    district_page = await site.page_as(district)
    await district_page.goto(board)
    await expect(district_page.locator("h1")).to_contain_text("Trà Cú")
    await expect(district_page.locator("#by-unit tbody tr")).to_have_count(3)
    await expect(district_page.locator("#by-unit")).to_contain_text("Xã Hàm Giang")
    assert await district_page.locator("#to-recognition").count() == 0
    auditor = await site.page_as(first.actor("auditor"))
    await auditor.goto(board)
    await expect(auditor.locator("#count-recognised td")).to_have_text("1")
    response = await auditor.goto(list_url)
    assert response is not None and response.status == 403

    # another province's committee is refused this plan's dashboard
    outsider = await site.page_as(Actor(person_id="p-38", role="province_ubnd",
                                        province_code="38"))  # Thanh Hóa
    response = await outsider.goto(board)
    assert response is not None and response.status == 403

    # a commune's officer gets a plain refusal, not the province's counts
    commune = await site.page_as(first.actor("commune_ubnd"))
    response = await commune.goto(board)
    assert response is not None and response.status == 403
    await expect(commune.get_by_role("alert")).to_contain_text("cấp tỉnh")

    # everything ends: the campaign after the year (awaiting the workflow this service
    # started lets the test server skip time), and with it every case it started
    final = await service.campaign_result(campaign)
    assert final.recognised == [CHOSEN] and final.not_recognised == [WITHDRAWN]
    for case in site.cases.values():
        await (await service.handle_for_result(case.id)).result()
