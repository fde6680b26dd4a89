"""The commune's forms (issue 10) in a real browser over the real API process and workflows:
a phase report through the form generated from the metrics contract (a bad value shown next
to its field and nothing recorded; an over-size file refused next to the file input; then the
report with an attached file, whose SHA-256 the case page shows and whose download returns the
same bytes); a stale form refused in plain Vietnamese; the dossier returned with a reason, which
the commune reads and resubmits from the case page; other people refused the form (403); a form
without its CSRF token refused; axe-core on the form page; screenshot ``commune-form``.
Communes 29497 and 29500 of Trà Vinh are this module's only; its case is withdrawn and awaited
at its end."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from domain.identity import Signer
from domain.metric_labels import label
from domain.metrics import Metrics
from runtime.limits import ENV_MAX_ATTACHMENT
from tests.workflows.support import CLEAN, Case, eventually
from tests.workflows.web_support import CaseSite, accessible, browser, case_site, screenshot

pytestmark = pytest.mark.asyncio(loop_scope="session")
__all__ = ["browser"]  # the fixture, used by name

PLAN = "tra-vinh-2025"
COMMUNE, NEIGHBOUR = "29497", "29500"  # Xã Đôn Xuân, Xã Đôn Châu (district 850)
ISSUER = Signer.from_seed(bytes(range(160, 192)))


Site = CaseSite


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def site(temporal: Any, worker: str, store: Any, browser: Browser) -> AsyncIterator[Site]:
    async with case_site(temporal, worker, store, browser, ISSUER, PLAN, COMMUNE) as s:
        yield s


async def fill_metrics(page: Page, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if isinstance(value, bool):
            await page.locator(f"#m_{name}").select_option("yes" if value else "no")
        else:
            await page.locator(f"#m_{name}").fill(str(value))


async def events(case: Case, kind: str) -> int:
    return sum(1 for e in await case.service.history(case.ref) if e.type == kind)


async def test_commune_submits_reports_and_resubmits(site: Site, store: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    case = site.case
    await case.start()
    await case.select()
    report = case.plan.deadline("phase_1_report")
    await case.advance_to(case.plan.deadline("implementation_plan").due - timedelta(days=1))
    await case.submit("implementation_plan")
    await case.advance_to(report.due - timedelta(days=1))

    # other people may not open the commune's form
    for actor in (case.actor("commune_ubnd", commune_code=NEIGHBOUR),
                  case.actor("district_ubnd")):
        other = await site.page_as(actor)
        answer = await other.goto(f"{site.url}/ui/cases/{case.id}/submit")
        assert answer is not None and answer.status == 403, actor
        await expect(other.get_by_role("alert")).to_be_visible()

    # the commune opens its case and the form generated from the contract
    commune = await site.page_as(case.actor("commune_ubnd"))
    await commune.goto(f"{site.url}/ui/cases/{case.id}")
    await commune.get_by_role("link", name="Nộp báo cáo hoặc hồ sơ").click()
    await expect(commune.get_by_role("heading", level=1)).to_contain_text("Nộp báo cáo")
    for name in Metrics.model_fields:  # every field labelled in Vietnamese
        await expect(commune.get_by_label(label(name, "vi"), exact=True)).to_have_count(1)
    assert await commune.locator("#m_addicts_total").get_attribute("inputmode") == "numeric"
    await expect(commune.locator("#what")).to_contain_text("30/04/")  # dd/mm/yyyy
    stale = await commune.context.new_page()  # a second tab on the same form, for later
    await stale.goto(commune.url)
    await accessible(commune)
    await screenshot(commune, "commune-form")

    # a negative count and a part above its whole: each shown next to its field, values kept
    await commune.locator("#what").select_option(f"deadline:{report.id}")
    await commune.get_by_label("Ghi chú").fill("báo cáo giai đoạn 1")
    await fill_metrics(commune, {**CLEAN, "users_total": "-2", "households_committed": 2500})
    before = len(await case.service.history(case.ref))
    async with commune.expect_response(lambda r: r.request.method == "POST") as posted:
        await commune.get_by_role("button", name="Nộp", exact=True).click()
    assert (await posted.value).status == 422
    await expect(commune.locator("#err-users_total")).to_contain_text("số nguyên không âm")
    await expect(commune.locator("#err-households_committed")).to_contain_text(
        label("households_total", "vi"))
    assert await commune.locator(".field-error").count() == 2
    await expect(commune.locator("#m_users_total")).to_have_value("-2")
    await expect(commune.locator("#m_households_committed")).to_have_value("2500")
    await expect(commune.get_by_label("Ghi chú")).to_have_value("báo cáo giai đoạn 1")
    await accessible(commune)
    assert len(await case.service.history(case.ref)) == before

    # a file over the attachment bound: refused next to the file input, nothing stored
    monkeypatch.setenv(ENV_MAX_ATTACHMENT, "2048")
    big = b"x" * 3000
    await fill_metrics(commune, {"users_total": 2, "households_committed": 2100})
    await commune.locator("#files").set_input_files(
        [{"name": "lon.bin", "mimeType": "application/octet-stream", "buffer": big}])
    async with commune.expect_response(lambda r: r.request.method == "POST") as posted:
        await commune.get_by_role("button", name="Nộp", exact=True).click()
    assert (await posted.value).status == 422
    await expect(commune.locator("#err-files")).to_contain_text("vượt quá")
    assert await commune.locator(".field-error").count() == 1
    assert len(await case.service.history(case.ref)) == before
    assert await store.pool.fetchval("SELECT count(*) FROM attachment_blobs WHERE sha256 = $1",
                                     hashlib.sha256(big).hexdigest()) == 0
    monkeypatch.delenv(ENV_MAX_ATTACHMENT)

    # corrected, with the meeting record attached: recorded, back on the case page
    record = "Biên bản họp dân ấp Đôn Xuân\n".encode() * 30
    sha = hashlib.sha256(record).hexdigest()
    await commune.locator("#files").set_input_files(
        [{"name": "bien-ban-hop-dan.txt", "mimeType": "text/plain", "buffer": record}])
    await commune.get_by_role("button", name="Nộp", exact=True).click()
    await expect(commune.locator("#submitted")).to_contain_text("Đã nộp")
    assert await events(case, "report.submitted") == 2
    await expect(commune.locator("code.hash", has_text=sha)).to_have_count(1)
    link = commune.get_by_role("link", name="bien-ban-hop-dan.txt")
    href = await link.get_attribute("href")
    assert href == f"/ui/cases/{case.id}/attachments/{sha}"
    download = await commune.request.get(f"{site.url}{href}")
    assert download.status == 200 and await download.body() == record
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"
    facts = [e for e in await case.service.history(case.ref) if e.type == "report.submitted"]
    assert facts[-1].payload["attachments"] == [
        {"name": "bien-ban-hop-dan.txt", "sha256": sha, "size": len(record)}]

    # the form in the other tab is stale now: the workflow's refusal, in plain Vietnamese
    await stale.locator("#what").select_option(f"deadline:{report.id}")
    await stale.get_by_role("button", name="Nộp", exact=True).click()
    await expect(stale.locator("#form-error")).to_contain_text("đã được nộp")
    assert await events(case, "report.submitted") == 2

    # a form posted without its CSRF token changes nothing
    forged = await commune.request.post(f"{site.url}/ui/cases/{case.id}/submit", multipart={
        "what": "kind:forum", "idem": "forged"})
    assert forged.status == 403
    assert await events(case, "report.submitted") == 2

    # the remaining reports, then the dossier; the first level returns it with a reason
    for d in sorted(case.plan.deadlines, key=lambda d: d.due):
        if d.kind in ("forum", "phase_report") and d.id not in (report.id,) and \
                d.due < case.plan.deadline("dossier").due:
            await case.advance_to(d.due - timedelta(days=1))
            await case.submit(d.id, CLEAN if d.kind == "phase_report" else None)
    await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=1))
    await case.submit("dossier", CLEAN)
    first = case.plan.approval_chain[0]
    await case.decide("reject", case.actor(first.roles[0]), first.id,
                      reason="thiếu biên bản họp dân ấp 3")

    # the commune reads the reason on its case page and resubmits from there
    await commune.goto(f"{site.url}/ui/cases/{case.id}")
    await expect(commune.locator("#return-reason")).to_have_text("thiếu biên bản họp dân ấp 3")
    await accessible(commune)
    await commune.get_by_role("button", name="Nộp lại hồ sơ").click()
    await expect(commune.locator("#resubmitted")).to_be_visible()
    await expect(commune.locator("#returned-h")).to_have_count(0)
    chain = await case.service.chain_status(case.ref)
    assert chain is not None and chain.status == "pending" and chain.round == 2

    async def resubmitted() -> bool:
        return await events(case, "dossier.resubmitted") == 1

    await eventually(resubmitted)

    # the case ends: nothing is left running to hold the server's clock
    await case.withdraw("kết thúc thử nghiệm")
    await (await case.service.handle_for_result(case.id)).result()
