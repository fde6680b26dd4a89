"""The reporting rounds' pages (issue 13) in a real browser (Debian's Chromium, Playwright) over
the real API process and workflows: Sơn La's action month 2023 (the shipped plan), rehearsed
after the test server's "now". The provincial police opens the round from its page; the health
department's person finds the owed report in the inbox, sends a bad value first (refused,
the indicator named, nothing recorded), then the report; a district's People's Committee
sends its own; the police sends it back (the reason shown to the district) and it comes
again; after the due day the police consolidates, the provincial People's Committee approves,
and the .docx downloads with the consolidated value. axe-core on every page; screenshots of
the round page and the programme page."""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import pytest_asyncio
from docx import Document
from playwright.async_api import Browser, Page, expect

import catalog
from api.app import create_app
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import Signer
from domain.reporting import ReportingPlan, ReportingUnit, reporting_units, reports
from domain.roles import Actor
from runtime.temporal import skip_until
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import SIGNER, eventually, serving
from tests.workflows.web_support import ROOT, SHOTS, Browsing, accessible, browser, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["browser"]  # the fixture, used by name

PLAN = "son-la-action-month-2023"
ROUND = "action-month-2023"
STREAM = f"round:{PLAN}:{ROUND}"
MINUTES = "Biên bản ra quân tháng hành động.".encode()
ISSUER = Signer.from_seed(bytes(range(224, 256)))
POLICE = Actor(person_id="p-ca", role="province_police", province_code="14", unit="police")
UBND = Actor(person_id="p-ub", role="province_ubnd", province_code="14")
HEALTH = Actor(person_id="p-yt", role="province_department", province_code="14", unit="health")
DISTRICT = Actor(person_id="p-116", role="district_ubnd", province_code="14",
                 district_code="116")


class Site(Browsing):
    def __init__(self, url: str, browser: Browser, env: Any, plan: ReportingPlan,
                 clock: PlanClock) -> None:
        super().__init__(url, browser, ISSUER)
        self.env, self.plan, self.clock = env, plan, clock
        self.round_url = f"{url}/ui/rounds/{PLAN}/{ROUND}"

    async def at(self, day: date) -> None:
        """Move the test server's clock to 9:00 of ``day`` on the rehearsed calendar."""
        await skip_until(self.env, self.clock.day_start(self.plan, day)  # type: ignore[arg-type]
                         + timedelta(hours=9))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(temporal: Any, worker: str, store: Any, browser: Browser) -> AsyncIterator[Site]:
    client, env = temporal
    plan = catalog.reporting_plan(PLAN)
    clock = PlanClock(shift_years=rehearsal_shift(plan, plan.local_date(  # type: ignore[arg-type]
        await env.get_current_time())))
    service = CaseService(client, worker, store, signer=SIGNER, clock=env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()), clock_for=lambda _: clock)
    async with serving(app) as url:
        s = Site(url, browser, env, plan, clock)
        yield s
        await s.close()


async def types(store: Any) -> list[str]:
    return [e.type for e in await store.read(STREAM)]


async def fill_report(page: Page, plan: ReportingPlan, unit: ReportingUnit, n: int,
                      **override: str) -> None:
    """Fill ``unit``'s form: every count ``n``, an area 1.5, yes/no ticked, the sections."""
    form = page.locator(f"#report-form-{unit.id}")
    for i in plan.form(plan.round(ROUND).form).indicators:
        if not reports(i, unit):
            continue
        field = form.locator(f"#v_{i.id}")
        if i.type == "boolean":
            await field.check()
        else:
            await field.fill(override.get(i.id, str(n) if i.type == "count" else "1.5"))
    await form.locator("#s_results").fill("Đã tổ chức các hoạt động hưởng ứng.")
    await form.locator("#s_shortcomings").fill("Nguồn lực còn hạn chế.")


async def test_the_action_month_in_the_browser(site: Site, store: Any) -> None:
    plan = site.plan
    units = {u.id: u for u in reporting_units(plan)}
    health, district = units["health"], units["district-116"]
    await site.at(date(2023, 6, 1))

    # the police finds the round not opened on the list, and opens it from its page
    police = await site.page_as(POLICE)
    await police.get_by_role("link", name="Báo cáo định kỳ").click()
    await police.wait_for_url("**/ui/rounds")
    row = police.locator(f"#round-{PLAN}-{ROUND}")
    await expect(row).to_contain_text("Chưa mở")
    await accessible(police)
    await row.get_by_role("link").click()
    await police.wait_for_url(f"**/ui/rounds/{PLAN}/{ROUND}")
    await police.get_by_role("button", name="Mở kỳ báo cáo").click()
    await expect(police.locator("#done")).to_be_visible()
    await expect(police.locator("#round-status")).to_contain_text("Đang mở")
    await expect(police.locator("#units tbody tr")).to_have_count(len(units))
    await police.goto(f"{site.url}/ui/rounds")
    await expect(row).to_contain_text("đã báo cáo 0 / 25")

    # the health department's person: the owed report in the inbox, then the form
    yt = await site.page_as(HEALTH)
    entries = yt.locator("#round-items")
    await expect(entries).to_contain_text("Báo cáo của Sở Y tế")
    await accessible(yt)
    await entries.get_by_role("link").click()
    await yt.wait_for_url(f"**/ui/rounds/{PLAN}/{ROUND}")
    await expect(yt.locator("#report-h-health")).to_be_visible()
    assert await yt.locator("#consolidate-form").count() == 0  # not the police's buttons
    # an empty file: the file input is marked, nothing stored or recorded
    await fill_report(yt, plan, health, 3)
    await yt.locator("#files-health").set_input_files(
        [{"name": "rong.txt", "mimeType": "text/plain", "buffer": b""}])
    await yt.get_by_role("button", name="Gửi báo cáo").click()
    await expect(yt.locator("#err-files-health")).to_contain_text("rỗng")
    await expect(yt.locator("#files-health")).to_have_attribute("aria-invalid", "true")
    assert "unit_report.submitted" not in await types(store)
    await fill_report(yt, plan, health, 3, propaganda_sessions="2.5")
    await yt.get_by_role("button", name="Gửi báo cáo").click()
    await expect(yt.locator("#form-error")).to_contain_text("propaganda_sessions")
    await expect(yt.locator("#form-error")).to_contain_text("phải là số nguyên")
    await expect(yt.locator("#v_propaganda_sessions")).to_have_attribute("aria-invalid", "true")
    await expect(yt.locator("#v_propaganda_sessions")).to_have_value("2.5")
    assert "unit_report.submitted" not in await types(store)  # nothing recorded
    await accessible(yt)
    await yt.locator("#v_propaganda_sessions").fill("3")
    await yt.locator("#files-health").set_input_files(
        [{"name": "Biên bản ra quân.txt", "mimeType": "text/plain", "buffer": MINUTES}])
    await yt.get_by_role("button", name="Gửi báo cáo").click()
    await expect(yt.locator("#done")).to_be_visible()
    await expect(yt.locator("#unit-health")).to_contain_text("Đã báo cáo đúng hạn")
    sha = hashlib.sha256(MINUTES).hexdigest()
    link = yt.locator("#files-of-health a")
    await expect(link).to_have_text("Biên bản ra quân.txt")
    await expect(link).to_have_attribute("href", f"/ui/rounds/{PLAN}/{ROUND}/attachments/{sha}")
    sent = [e.payload for e in await store.read(STREAM) if e.type == "unit_report.submitted"]
    assert sent[-1]["attachments"] == [{"name": "Biên bản ra quân.txt", "sha256": sha,
                                        "size": len(MINUTES)}]
    assert await yt.locator("#report-form-health").count() == 0
    await yt.goto(f"{site.url}/ui/inbox")
    await expect(yt.locator("h1")).to_have_text("Hộp công việc")
    assert await yt.locator("#round-items").count() == 0  # owed no longer

    # a district's People's Committee sends its report
    hu = await site.page_as(DISTRICT)
    await hu.goto(site.round_url)
    await fill_report(hu, plan, district, 10)
    await hu.get_by_role("button", name="Gửi báo cáo").click()
    await expect(hu.locator("#done")).to_be_visible()

    # the police sends it back with a reason; consolidating before the due day is refused
    await police.goto(site.round_url)
    send_back = police.locator(f"#unit-{district.id} form.send-back")
    await send_back.get_by_label("Lý do trả lại báo cáo của").fill("Số liệu chưa khớp")
    await send_back.get_by_role("button").click()
    await expect(police.locator("#done")).to_contain_text("trả lại")
    await expect(police.locator(f"#unit-{district.id}")).to_contain_text("Số liệu chưa khớp")
    await police.get_by_role("button", name="Tổng hợp").click()
    await expect(police.locator("#form-error")).to_contain_text("chưa báo cáo")
    await accessible(police)

    # the district reads the reason and sends the report again
    await hu.goto(site.round_url)
    await expect(hu.locator("#returned-district-116")).to_contain_text("Số liệu chưa khớp")
    await fill_report(hu, plan, district, 5)
    await hu.get_by_role("button", name="Gửi báo cáo").click()
    await expect(hu.locator("#done")).to_be_visible()
    await expect(hu.locator(f"#unit-{district.id}")).to_contain_text("Đã báo cáo")

    # after the due day: the police's inbox says consolidate; it does
    await site.at(date(2023, 7, 5))
    await police.goto(f"{site.url}/ui/inbox")
    await expect(police.locator("#round-items")).to_contain_text("Tổng hợp báo cáo")
    await police.goto(site.round_url)
    await expect(police.locator("#unit-district-128")).to_contain_text("Quá hạn")
    await police.get_by_role("button", name="Tổng hợp").click()
    await expect(police.locator("#done")).to_be_visible()
    # health 3 + district 116 corrected 5 = 8 sessions
    await expect(police.locator("#ind-propaganda_sessions")).to_contain_text("8 buổi")

    # the provincial People's Committee: the inbox, the table, the .docx, the approval
    ub = await site.page_as(UBND)
    await expect(ub.locator("#round-items")).to_contain_text("Phê duyệt")
    await ub.goto(site.round_url)
    await expect(ub.locator("#consolidated")).to_be_visible()
    await expect(ub.locator("#ind-instructions_issued")).to_contain_text("Có")
    await accessible(ub)
    await screenshot(ub, "round")
    async with ub.expect_download() as got:
        await ub.locator("#docx").click()
    download = await got.value
    path = await download.path()
    doc = Document(io.BytesIO(path.read_bytes()))
    rows = [[c.text.strip() for c in r.cells] for t in doc.tables for r in t.rows]
    sessions = [r for r in rows if any("Số buổi tuyên truyền" in c for c in r)]
    assert sessions and "8" in sessions[0], rows[:20]
    async with ub.expect_download() as got:  # the health department's file, as sent
        await ub.locator("#files-of-health a").click()
    assert (await (await got.value).path()).read_bytes() == MINUTES
    await ub.get_by_role("button", name="Phê duyệt").click()
    await expect(ub.locator("#done")).to_be_visible()
    await expect(ub.locator("#round-status")).to_contain_text("Đã kết thúc")

    async def closed() -> bool:
        return (await types(store))[-1:] == ["round.closed"]

    await eventually(closed)  # the round's workflow ends approved
    assert (await store.verify(STREAM)).ok

    # the programme page: the year's values, linked from the list
    await ub.goto(f"{site.url}/ui/rounds")
    await ub.locator(f"#reporting-{PLAN}").get_by_role("link", name="Chỉ tiêu qua các năm").click()
    await ub.wait_for_url(f"**/ui/programmes/{PLAN}")
    await expect(ub.locator("#years")).to_have_text("2023")
    await expect(ub.locator("#path-propaganda_sessions")).to_contain_text("8")
    await expect(ub.locator("#not-reported li")).to_have_count(len(units) - 2)
    await accessible(ub)
    await screenshot(ub, "programme")
    docs = ROOT / "docs" / "screenshots"
    for name in ("round", "programme"):
        shutil.copy(SHOTS / f"{name}.png", docs / f"{name}.png")

    await ub.get_by_role("link", name="English").click()
    await expect(ub.locator("h1")).to_contain_text("Indicators over the years")
    await ub.goto(site.round_url)
    await expect(ub.locator("#round-status")).to_contain_text("Closed")
    await expect(ub.locator("#ind-propaganda_sessions")).to_contain_text("Drug-prevention")

    # another province's person is refused the round page (as the API refuses it)
    outsider = await site.page_as(Actor(person_id="p-x", role="province_ubnd",
                                        province_code="01"))
    response = await outsider.goto(site.round_url)
    assert response is not None and response.status == 403


async def test_an_ad_hoc_round_opened_from_the_page(site: Site, store: Any) -> None:
    """Trà Vinh's provincial police opens an ad hoc round (000 §VI.2 "đột xuất") from the
    rounds list; it is listed beside the scheduled ones, its page names it; after its due day
    the police consolidates (the units that did not answer listed) and the People's Committee
    approves, both on the page."""
    plan_id = "tra-vinh-project-2-2022-2025"
    plan = catalog.reporting_plan(plan_id)
    police = Actor(person_id="p-ca84", role="province_police", province_code="84", unit="police")
    ubnd = Actor(person_id="p-ub84", role="province_ubnd", province_code="84")
    today = site.clock.plan_date(plan, await site.env.get_current_time())  # type: ignore[arg-type]
    due = today + timedelta(days=10)
    page = await site.page_as(police)
    await page.goto(f"{site.url}/ui/rounds")
    form = page.locator(f"form.adhoc[action='/ui/rounds/{plan_id}']")
    await form.get_by_label("Tiêu đề").fill("Báo cáo đột xuất tình hình ma túy dịp Tết")
    await form.get_by_label("Hạn báo cáo").fill(due.isoformat())
    await form.get_by_role("button", name="Mở kỳ báo cáo").click()
    await page.wait_for_url(f"**/ui/rounds/{plan_id}/dot-xuat-1?done=open")
    await expect(page.locator("h1")).to_contain_text("Báo cáo đột xuất tình hình ma túy dịp Tết")
    await accessible(page)
    stream = f"round:{plan_id}:dot-xuat-1"

    async def opened() -> bool:
        return await store.version(stream) > 0

    await eventually(opened)
    await page.goto(f"{site.url}/ui/rounds")
    await expect(page.locator(f"#round-{plan_id}-dot-xuat-1")).to_contain_text("Đang mở")

    await skip_until(site.env, site.clock.day_start(plan, due + timedelta(days=2))  # type: ignore[arg-type]
                     + timedelta(hours=9))
    await page.goto(f"{site.url}/ui/rounds/{plan_id}/dot-xuat-1")
    await page.get_by_role("button", name="Tổng hợp").click()
    await page.wait_for_url("**?done=consolidate")
    board = await site.page_as(ubnd)
    await board.goto(f"{site.url}/ui/rounds/{plan_id}/dot-xuat-1")
    await board.get_by_role("button", name="Phê duyệt").click()
    await board.wait_for_url("**?done=approve")

    async def closed() -> bool:
        return [e.type for e in await store.read(stream)][-1:] == ["round.closed"]

    await eventually(closed)
    missed = [e for e in await store.read(stream) if e.type == "unit_report.missed"]
    assert len(missed) == len(reporting_units(plan))  # nobody answered this one
