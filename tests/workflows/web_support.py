"""Driving the web pages in a real browser: Debian's Chromium under Playwright, an axe-core
check of each page, screenshots at 1366x768 into ``var/screenshots/``."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from domain.identity import Signer, issue_token
from domain.roles import Actor
from tests.workflows.support import Case

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "var" / "screenshots"
VIEWPORT = {"width": 1366, "height": 768}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        await b.close()


async def accessible(page: Page) -> None:
    """axe-core's WCAG 2 A/AA rules (labels, contrast, names, structure) find nothing."""
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs web/node_modules (npm ci)")
    # evaluated through the DevTools protocol: the pages' CSP (scripts from the site only)
    # stays in force, and the check runs anyway
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})")
    problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]]
    assert not problems, f"{page.url}: {problems}"


async def screenshot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


class Browsing:
    """People at the pages: each in a fresh browser context (its own cookies) at 1366x768,
    signed in through the sign-in form with a token from ``issuer``."""

    def __init__(self, url: str, browser: Browser, issuer: Signer) -> None:
        self.url, self.browser, self.issuer = url, browser, issuer
        self.contexts: list[BrowserContext] = []

    def token(self, actor: Actor) -> str:
        return issue_token(self.issuer, actor, datetime.now(UTC), timedelta(hours=2))

    async def page_as(self, actor: Actor | None) -> Page:
        """A new browser signed in as ``actor`` (None: at the sign-in page, signed out)."""
        context = await self.browser.new_context(viewport=VIEWPORT, locale="vi-VN",
                                                 accept_downloads=True)
        self.contexts.append(context)
        page = await context.new_page()
        await page.goto(f"{self.url}/ui/signin")
        if actor is not None:
            await page.get_by_label("Thẻ định danh").fill(self.token(actor))
            await page.get_by_role("button", name="Đăng nhập").first.click()
            await page.wait_for_url("**/ui/inbox")
        return page

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


class CaseSite(Browsing):
    """The pages of an API process over the test worker, for one commune's case, whose new
    cases run on that case's rehearsal calendar."""

    def __init__(self, url: str, browser: Browser, issuer: Signer, case: Case) -> None:
        super().__init__(url, browser, issuer)
        self.case = case


@contextlib.asynccontextmanager
async def case_site(temporal: Any, worker: str, store: Any, browser: Browser, issuer: Signer,
                    plan_id: str, commune: str) -> AsyncIterator[CaseSite]:
    """``CaseSite`` served by uvicorn for the block; the browsers it opened closed after."""
    from api.app import create_app
    from catalog import get_plan
    from domain.admin_units import registry
    from service import CaseService
    from service.access import Authenticator
    from tests.workflows.support import SIGNER, serving

    client, env = temporal
    unit = registry(get_plan(plan_id).structure).commune(commune)
    case = Case(client, env, plan_id, commune, unit.district_code, unit.province_code, worker,
                today=(await env.get_current_time()).date())
    case.service = CaseService(client, worker, store, signer=SIGNER,
                               clock=env.get_current_time)
    app = create_app(case.service, Authenticator(issuer.ring()),
                     clock_for=lambda _: case.clock)
    async with serving(app) as url:
        site = CaseSite(url, browser, issuer, case)
        try:
            yield site
        finally:
            await site.close()
