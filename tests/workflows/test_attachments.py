"""Submissions by kind and with attachments (issue 9): files uploaded to a case by SHA-256,
bounded in size, only by the commune that may submit, downloaded by whoever may read the case;
a submission names them by hash and its event records each one's name, hash and size; by kind,
the case's earliest outstanding deadline of that kind. Through HTTP (in process) and through
``drugfree case submit --kind --attach`` against uvicorn. Communes 29464, 29467 and 29470 of
Trà Vinh are this module's only; every case it opens is withdrawn and awaited at its end."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from api.app import create_app
from domain.identity import Signer, issue_token
from domain.roles import Actor
from service import CaseService
from service.access import Authenticator
from tests.workflows.support import BASELINE, SIGNER, Case

# the command line's fixtures: uvicorn over the real workflows, and the command in a thread
from tests.workflows.test_cli_client import Run, Served, drugfree, one_error, served  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
COMMUNE, CLI_COMMUNE, NEIGHBOUR = "29464", "29467", "29470"  # district 849
ISSUER = Signer.from_seed(bytes(range(64, 96)))  # as test_api's sign-on
LIMIT = 4096  # the API's attachment bound in these tests


def bearer(actor: Actor, signer: Signer = ISSUER) -> dict[str, str]:
    token = issue_token(signer, actor, datetime.now(UTC), timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def code_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"code", "message_vi", "message_en"}, body
    return str(body["code"])


@pytest_asyncio.fixture(loop_scope="session")
async def api(make_case: Any, store: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Case]]:
    case: Case = await make_case(PLAN, COMMUNE)
    service = CaseService(case.client, case.tq, store, signer=SIGNER,
                          clock=case.env.get_current_time)
    app = create_app(service, Authenticator(ISSUER.ring()), max_body=64 * 1024,
                     clock_for=lambda _: case.clock, max_attachment=LIMIT)
    case.service = service
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://api") as http:
        yield http, case


async def open_and_select(http: httpx.AsyncClient, case: Case) -> None:
    r = await http.post("/cases", headers=bearer(case.actor("district_ubnd")), json={
        "plan_id": PLAN, "commune_code": case.scope.commune_code, "baseline": BASELINE})
    assert r.status_code == 201, r.text
    r = await http.post(f"/cases/{case.id}/decisions", headers=bearer(
        case.actor("province_police")), json={"kind": "select"})
    assert r.status_code == 200, r.text


async def stored(store: Any, sha256: str) -> int:
    return int(await store.pool.fetchval(
        "SELECT count(*) FROM attachment_blobs WHERE sha256 = $1", sha256))


async def test_attachments_through_http(api: tuple[httpx.AsyncClient, Case],
                                        store: Any) -> None:
    http, case = api
    await open_and_select(http, case)
    commune = case.actor("commune_ubnd")
    files = f"/cases/{case.id}/attachments"
    record = "Biên bản họp dân thôn 3\n".encode() * 20
    sha = hashlib.sha256(record).hexdigest()

    # the commune uploads; the same bytes again change nothing
    r = await http.post(files, params={"name": "../bien ban\x07.txt"}, content=record,
                        headers={**bearer(commune), "Content-Type": "text/plain; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.json() == {"sha256": sha, "size": len(record), "name": "bien ban.txt"}
    again = await http.post(files, params={"name": "bien ban.txt"}, content=record,
                            headers=bearer(commune))
    assert again.json() == r.json() and await stored(store, sha) == 1

    # only the commune that submits, in its jurisdiction
    for who, code in ((case.actor("district_ubnd"), "case.wrong_role"),
                      (case.actor("commune_ubnd", commune_code=NEIGHBOUR),
                       "case.wrong_jurisdiction"),
                      (Actor(person_id="p-x", role="commune_ubnd", province_code="38",
                             district_code="999", commune_code=COMMUNE),
                       "case.wrong_jurisdiction"),
                      (case.actor("auditor"), "access.read_only")):
        r = await http.post(files, params={"name": "x.txt"}, content=b"other bytes",
                            headers=bearer(who))
        assert r.status_code == 403 and code_of(r) == code, (who.role, r.text)
    assert await stored(store, hashlib.sha256(b"other bytes").hexdigest()) == 0

    # too large: declared or streamed (no Content-Length), refused, nothing stored
    big = b"x" * (LIMIT + 1)
    r = await http.post(files, params={"name": "big.bin"}, content=big,
                        headers=bearer(commune))
    assert r.status_code == 413 and code_of(r) == "attachment.too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(LIMIT // 1000 + 2):
            yield b"y" * 1000

    async def streamed() -> AsyncIterator[bytes]:
        for chunk in chunks():
            yield chunk

    r = await http.post(files, params={"name": "big.bin"}, content=streamed(),
                        headers=bearer(commune))
    assert r.status_code == 413 and code_of(r) == "attachment.too_large"
    for body in (big, b"".join(chunks())):
        assert await stored(store, hashlib.sha256(body).hexdigest()) == 0
    # empty, or a name that is only a path: refused
    r = await http.post(files, params={"name": "a.txt"}, content=b"", headers=bearer(commune))
    assert r.status_code == 422 and code_of(r) == "attachment.empty"
    r = await http.post(files, params={"name": "a/.."}, content=b"z", headers=bearer(commune))
    assert r.status_code == 422 and code_of(r) == "attachment.bad_name"
    # a case not opened: nothing to upload to
    r = await http.post(f"/cases/conversion:{PLAN}:{NEIGHBOUR}/attachments",
                        params={"name": "a.txt"}, content=b"z",
                        headers=bearer(case.actor("commune_ubnd", commune_code=NEIGHBOUR)))
    assert r.status_code == 404 and code_of(r) == "case.not_found"

    # a hash never uploaded to this case: 422 naming it, and no event
    before = len(await store.read(case.id))
    unknown = hashlib.sha256(b"never uploaded").hexdigest()
    r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune), json={
        "kind": "implementation_plan", "attachments": [{"name": "a.pdf", "sha256": sha},
                                                       {"name": "b.pdf", "sha256": unknown}]})
    assert r.status_code == 422 and code_of(r) == "attachment.unknown" and unknown in r.text
    assert len(await store.read(case.id)) == before

    # by kind, with the file: the earliest implementation plan; the event records the file
    r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune), json={
        "kind": "implementation_plan", "summary": "kế hoạch",
        "attachments": [{"name": "ke-hoach.txt", "sha256": sha}]})
    assert r.status_code == 200, r.text
    assert r.json()["deadline_id"] == "implementation_plan" and r.json()["late"] is False
    history = (await http.get(f"/cases/{case.id}/history",
                              headers=bearer(case.actor("auditor")))).json()
    report = [e for e in history if e["type"] == "report.submitted"][-1]["payload"]
    assert report["attachments"] == [{"name": "ke-hoach.txt", "sha256": sha,
                                      "size": len(record)}]

    # forums by kind: the earliest outstanding first, then the next, then none is left
    answered = []
    for _ in range(2):
        r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune),
                            json={"kind": "forum", "summary": "diễn đàn"})
        assert r.status_code == 200, r.text
        answered.append(r.json()["deadline_id"])
    assert answered == ["forum_q2", "forum_q3"]
    r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune),
                        json={"kind": "forum"})
    assert r.status_code == 422 and code_of(r) == "submission.none_outstanding"
    assert "không còn" in r.json()["message_vi"]
    r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune),
                        json={"kind": "forum", "deadline_id": "phase_1_report"})
    assert r.status_code == 422 and code_of(r) == "submission.kind_mismatch"
    r = await http.post(f"/cases/{case.id}/submissions", headers=bearer(commune),
                        json={"summary": "?"})
    assert r.status_code == 422 and code_of(r) == "submission.deadline_required"
    # a submission without files is stored as before: no attachments field at all
    events = await store.read(case.id)
    forum = [e for e in events if e.type == "report.submitted"][-1]
    assert forum.payload["deadline_id"] == "forum_q3" and "attachments" not in forum.payload

    # downloads: the same bytes to a reader of the case; refused to another province
    for reader in (case.actor("auditor"), case.actor("province_police"), commune):
        r = await http.get(f"{files}/{sha}", headers=bearer(reader))
        assert r.status_code == 200 and r.content == record, reader.role
    assert r.headers["content-type"].startswith("text/plain")
    assert "attachment" in r.headers["content-disposition"]
    outsider = Actor(person_id="p-x", role="auditor", province_code="38")
    r = await http.get(f"{files}/{sha}", headers=bearer(outsider))
    assert r.status_code == 403 and code_of(r) == "case.wrong_jurisdiction"
    r = await http.get(f"{files}/{unknown}", headers=bearer(commune))
    assert r.status_code == 404 and code_of(r) == "attachment.not_found"
    # a file of this case is not another case's: not downloadable under it
    r = await http.get(f"/cases/conversion:{PLAN}:{NEIGHBOUR}/attachments/{sha}",
                       headers=bearer(case.actor("auditor")))
    assert r.status_code == 404

    # the case ends (withdrawn), so the shared test server's clock is free again
    r = await http.post(f"/cases/{case.id}/withdrawal",
                        headers=bearer(case.actor("district_ubnd")), json={"reason": "kết thúc"})
    assert r.status_code == 200, r.text
    assert (await case.service.result(case.ref)).outcome == "withdrawn"


async def test_submit_with_attachments_through_the_cli(
        served: Served, make_case: Any, drugfree: Run,  # noqa: F811
        store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case: Case = await make_case(PLAN, CLI_COMMUNE)
    served.use(case)
    district, commune = case.actor("district_ubnd"), case.actor("commune_ubnd")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(BASELINE), encoding="utf-8")
    await drugfree("case", "start", "--plan", PLAN, "--commune", CLI_COMMUNE, "--metrics",
                   str(baseline), who=district)
    await drugfree("case", "decide", case.id, "--select", who=case.actor("province_police"))
    plan_file, record = tmp_path / "kế hoạch.pdf", tmp_path / "bien-ban.txt"
    plan_file.write_bytes(b"%PDF-1.4 ke hoach thuc hien")
    record.write_text("biên bản", encoding="utf-8")
    empty, folder = tmp_path / "empty.txt", tmp_path / "folder"
    empty.write_bytes(b"")
    folder.mkdir()
    monkeypatch.setenv("DRUGFREE_MAX_ATTACHMENT_BYTES", "16")  # the command's own bound
    big = tmp_path / "big.bin"
    big.write_bytes(b"b" * 17)

    # bad files: one line each, exit 2, nothing sent
    before = len(await store.read(case.id))
    for path, code in ((tmp_path / "missing.pdf", "attachment.missing"),
                       (folder, "attachment.not_a_file"), (empty, "attachment.empty"),
                       (big, "attachment.too_large")):
        r = await drugfree("case", "submit", case.id, "--kind", "implementation_plan",
                           "--attach", str(record), "--attach", str(path), who=commune, code=2)
        one_error(r, code)
        assert r.stdout == ""
    assert len(await store.read(case.id)) == before
    assert await stored(store, hashlib.sha256(record.read_bytes()).hexdigest()) == 0
    monkeypatch.delenv("DRUGFREE_MAX_ATTACHMENT_BYTES")

    # neither --kind nor --deadline: a usage error
    from typer._click.exceptions import UsageError

    from cli.main import app as cli_app
    from cli.main import usage_line
    with pytest.raises(UsageError) as raised:
        cli_app(["case", "submit", case.id, "--api", served.url, "--token", "t"],
                prog_name="drugfree", standalone_mode=False)
    assert "--kind" in usage_line(raised.value) and "[usage]" in usage_line(raised.value)

    # two files with the implementation plan, by kind: each file's hash reported, recorded
    r = await drugfree("case", "submit", case.id, "--kind", "implementation_plan", "--attach",
                       str(plan_file), "--attach", str(record), "--note", "kế hoạch",
                       who=commune)
    hashes = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (plan_file, record)}
    lines = r.stdout.strip().splitlines()
    assert lines == [f"đã tải lên {name}: sha256 {sha}" for name, sha in hashes.items()] + [
        "đã nộp implementation_plan (đúng hạn)"], r.stdout
    events = json.loads((await drugfree("case", "history", case.id, "--json",
                                        who=case.actor("auditor"))).stdout)
    report = [e for e in events if e["type"] == "report.submitted"][-1]["payload"]
    assert report["attachments"] == [
        {"name": name, "sha256": sha, "size": p.stat().st_size}
        for (name, sha), p in zip(hashes.items(), (plan_file, record), strict=True)]
    # --json: the reply and the files; a deadline that contradicts the kind is refused
    r = await drugfree("case", "submit", case.id, "--kind", "phase_report", "--attach",
                       str(record), "--json", who=commune)
    out = json.loads(r.stdout)
    assert out["deadline_id"] == "phase_1_report"
    assert [a["sha256"] for a in out["attachments"]] == [hashes[record.name]]
    r = await drugfree("case", "submit", case.id, "--kind", "forum", "--deadline",
                       "phase_2_report", "--lang", "en", who=commune, code=2)
    one_error(r, "submission.kind_mismatch")

    r = await drugfree("case", "withdraw", case.id, "--reason", "kết thúc", who=district)
    assert (await case.service.result(case.ref)).outcome == "withdrawn"
