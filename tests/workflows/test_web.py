"""The web pages (issue 10) in a real browser (Debian's Chromium, Playwright) over the real API
process, workflows and read model: signing in, the inbox, the case page and its decision form,
a rejection with its reason and the commune's resubmission, each level's approval; another
province's reviewer refused; a form without its CSRF token refused; every page checked by
axe-core; screenshots at 1366x768 in var/screenshots/. Commune 29485 is this module's only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from domain.identity import Signer
from domain.roles import Actor
from tests.workflows.support import CLEAN
from tests.workflows.web_support import CaseSite, accessible, browser, case_site, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["browser"]  # the fixture, used by name

PLAN = "tra-vinh-2025"
COMMUNE = "29485"  # district 849
ISSUER = Signer.from_seed(bytes(range(128, 160)))


Site = CaseSite


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(temporal: Any, worker: str, store: Any, browser: Browser) -> AsyncIterator[Site]:
    async with case_site(temporal, worker, store, browser, ISSUER, PLAN, COMMUNE) as s:
        yield s


async def in_inbox(page: Page, case_id: str, url: str) -> None:
    """The read model follows the record within moments: reload until the item is there."""
    for _ in range(60):
        await page.goto(f"{url}/ui/inbox")
        if await page.locator(f'a[href="/ui/cases/{case_id}"]').count():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{case_id} never reached the inbox:\n{await page.content()}")


async def test_sign_in_inbox_case_page_and_refusals(site: Site) -> None:
    case = site.case
    # nobody reads a page without signing in
    anonymous = await site.page_as(None)
    await anonymous.goto(f"{site.url}/ui/inbox")
    assert anonymous.url.endswith("/ui/signin?why=identity.missing_token")
    await accessible(anonymous)
    await anonymous.get_by_label("Thẻ định danh").fill("not-a-token")
    await anonymous.get_by_role("button", name="Đăng nhập").first.click()
    await expect(anonymous.get_by_role("alert")).to_contain_text("thẻ định danh")

    # the case waits for the police's selection, then runs to its dossier
    await case.start()
    police = await site.page_as(case.actor("province_police"))
    await in_inbox(police, case.id, site.url)
    await expect(police.locator("#count-total")).to_contain_text("1")
    await accessible(police)
    await screenshot(police, "inbox")
    await case.select()
    for d in sorted(case.plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier") or \
                d.due > case.plan.deadline("dossier").due:
            continue
        await case.advance_to(d.due - timedelta(days=1))
        await case.submit(d.id, CLEAN if d.kind == "phase_report" else None)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", CLEAN)

    # the first level's reviewer finds it, opens it, and must give a reason to return it
    first = case.plan.approval_chain[0]
    reviewer = await site.page_as(case.actor(first.roles[0]))
    await in_inbox(reviewer, case.id, site.url)
    await reviewer.click(f'a[href="/ui/cases/{case.id}"]')
    await expect(reviewer.get_by_role("heading", level=1)).to_contain_text("Hồ sơ chuyển hóa")
    await expect(reviewer.locator("#crit-h")).to_contain_text("đạt")
    await expect(reviewer.locator("#verify-status")).to_contain_text("Toàn vẹn")
    await accessible(reviewer)
    await screenshot(reviewer, "case")
    await reviewer.get_by_role("button", name="Trả lại hồ sơ").click()
    await expect(reviewer.locator("#form-error")).to_contain_text("lý do")
    await reviewer.locator("#decision-form").scroll_into_view_if_needed()
    await screenshot(reviewer, "decision-form")
    await reviewer.get_by_label("Lý do").fill("thiếu biên bản họp dân")
    await reviewer.get_by_role("button", name="Trả lại hồ sơ").click()
    await expect(reviewer.locator("#done")).to_be_visible()
    await expect(reviewer.locator(".rejections")).to_contain_text("thiếu biên bản họp dân")

    # a reviewer of another province neither sees nor opens it
    outsider = await site.page_as(Actor(person_id="p-38", role=first.roles[0],
                                        province_code="38", district_code="402"))  # Thanh Hóa
    assert await outsider.locator(f'a[href="/ui/cases/{case.id}"]').count() == 0
    response = await outsider.goto(f"{site.url}/ui/cases/{case.id}")
    assert response is not None and response.status == 403
    await expect(outsider.get_by_role("alert")).to_contain_text("địa bàn")
    await accessible(outsider)  # the refusal page too

    # a form posted without its CSRF token changes nothing
    before = len(await case.service.history(case.ref))
    forged = await reviewer.request.post(f"{site.url}/ui/cases/{case.id}/decision",
                                         form={"action": "approve", "idem": "x"})
    assert forged.status == 403
    assert len(await case.service.history(case.ref)) == before

    # English on the toggle
    await reviewer.get_by_role("link", name="English").click()
    await expect(reviewer.get_by_role("heading", level=1)).to_contain_text("Conversion case")

    # the commune resubmits (its own page: test_web_commune.py); each level approves on its
    # case page; a double submission of one form is one signature
    await case.service.resubmit(case.ref, case.actor("commune_ubnd"))
    first_role = True
    for level in case.plan.approval_chain:
        for role in level.roles:
            page = await site.page_as(case.actor(role))
            await page.goto(f"{site.url}/ui/cases/{case.id}")
            await expect(page.locator("#decide-h")).to_contain_text(level.name_vi)
            if first_role:
                form = {name: await page.locator(f'#decision-form [name="{name}"]')
                        .get_attribute("value") or "" for name in ("csrf", "idem")}
                for _ in range(2):
                    r = await page.request.post(
                        f"{site.url}/ui/cases/{case.id}/decision",
                        form={**form, "action": "approve"}, max_redirects=0)
                    assert r.status == 303, await r.text()
                signed = [e for e in await case.service.history(case.ref)
                          if e.type == "level.signed" and e.payload["role"] == role]
                assert len(signed) == 1
                first_role = False
                continue
            await page.get_by_role("button", name="Đồng ý").click()
            await expect(page.locator("#done")).to_be_visible()
    assert (await case.service.result(case.ref)).outcome == "recognised"
    await reviewer.goto(f"{site.url}/ui/cases/{case.id}")
    await expect(reviewer.locator("#case-status")).to_contain_text("Recognised")
    await expect(reviewer.locator(".level-approved")).to_have_count(
        len(case.plan.approval_chain))

    # the auditor reads the timeline and the hash chain's verification, and has no form
    auditor = await site.page_as(case.actor("auditor"))
    await auditor.goto(f"{site.url}/ui/cases/{case.id}")
    await expect(auditor.locator("#verify-status")).to_contain_text("Toàn vẹn")
    await expect(auditor.locator(".timeline tbody tr")).to_have_count(
        len(await case.service.history(case.ref)))
    assert await auditor.locator("form#decision-form").count() == 0
    await accessible(auditor)

    # signing out ends the session: the pages ask for a sign-in again
    await auditor.get_by_role("button", name="Đăng xuất").click()
    await auditor.wait_for_url("**/ui/signin")
    await auditor.goto(f"{site.url}/ui/inbox")
    assert "/ui/signin" in auditor.url


async def test_pages_answer_without_javascript_too(site: Site) -> None:
    """The sign-in form and the inbox are plain HTML forms (htmx only enhances them)."""
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as http:
        page = await http.get("/ui/signin")
        assert page.status_code == 200
        assert "content-security-policy" in page.headers
        cookie = page.cookies.get("drugfree_signin")
        assert cookie and f'value="{cookie}"' in page.text
        signed = await http.post("/ui/signin", data={
            "csrf": cookie, "token": site.token(site.case.actor("province_police"))})
        assert signed.status_code == 303 and signed.headers["location"] == "/ui/inbox"
        session = signed.cookies.get("drugfree_session")
        assert session is not None
        set_cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie
        inbox = await http.get("/ui/inbox", cookies={"drugfree_session": session})
        assert inbox.status_code == 200 and "Hộp công việc" in inbox.text
        # the sign-in form without its own CSRF value is refused
        bad = await http.post("/ui/signin", data={"token": "x"})
        assert bad.status_code == 403
