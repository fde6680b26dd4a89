"""``drugfree db prune-uploads``: uploads no event of their stream names (a form abandoned, a
submission refused) are removed after a grace period, with the stored files left without an
upload; what a submission names, what is recent, and every event stay."""

from __future__ import annotations

import asyncio
import hashlib

import asyncpg
import pytest
from typer.testing import CliRunner

from cli.main import app as cli
from eventstore import EventStore, NewEvent
from eventstore import attachments as files
from tests.conftest import Database

pytestmark = pytest.mark.asyncio(loop_scope="session")

CASE = "conversion:tra-vinh-2025:29269"
OTHER = "conversion:tra-vinh-2025:29503"
runner = CliRunner()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def drugfree(*args: str) -> str:
    result = await asyncio.to_thread(runner.invoke, cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


async def test_only_old_unnamed_uploads_go(fresh_database: Database) -> None:
    named, abandoned, recent, shared = b"bien ban", b"nhap", b"moi tai", b"dung chung"
    async with await EventStore.connect(fresh_database.app_url) as store:
        for stream, data in ((CASE, named), (CASE, abandoned), (CASE, recent), (CASE, shared),
                             (OTHER, shared)):
            await files.add(store, stream, data, "x.pdf", "application/pdf", "p-commune")
        # the submission names one file of the case, and the other case names the shared one
        await store.append(CASE, 0, [NewEvent(f"{CASE}/1", "report.submitted", 2, {
            "deadline_id": "phase_1_report", "submitted_by": "p-commune",
            "role": "commune_ubnd", "late": False,
            "attachments": [{"name": "x.pdf", "sha256": sha(named), "size": len(named)}]})])
        await store.append(OTHER, 0, [NewEvent(f"{OTHER}/1", "report.submitted", 2, {
            "deadline_id": "phase_1_report", "submitted_by": "p-commune",
            "role": "commune_ubnd", "late": False,
            "attachments": [{"name": "x.pdf", "sha256": sha(shared), "size": len(shared)}]})])
        events = [(e.stream, e.hash) for s in (CASE, OTHER) for e in await store.read(s)]
    admin = await asyncpg.connect(fresh_database.admin_url)
    try:
        await admin.execute("UPDATE case_attachments SET uploaded_at = now() - interval '9 days'"
                            " WHERE sha256 <> $1", sha(recent))

        async def left() -> set[tuple[str, str]]:
            return {(r["stream"], r["sha256"]) for r in await admin.fetch(
                "SELECT stream, sha256 FROM case_attachments")}

        before = await left()
        out = await drugfree("db", "prune-uploads", "--dry-run",
                             "--database-url", fresh_database.admin_url)
        assert "would remove 2 uploads" in out and "1 stored files" in out
        assert await left() == before  # a dry run removes nothing

        out = await drugfree("db", "prune-uploads", "--database-url", fresh_database.admin_url)
        assert "đã xóa 2 tệp tải lên" in out and "removed 2 uploads" in out
        assert await left() == {(CASE, sha(named)), (CASE, sha(recent)), (OTHER, sha(shared))}
        # the abandoned file's bytes are gone; the shared one's stay for the case naming it
        blobs = {r["sha256"] for r in await admin.fetch("SELECT sha256 FROM attachment_blobs")}
        assert blobs == {sha(named), sha(recent), sha(shared)}

        out = await drugfree("db", "prune-uploads", "--database-url", fresh_database.admin_url)
        assert "removed 0 uploads" in out  # again: nothing left to remove
    finally:
        await admin.close()
    async with await EventStore.connect(fresh_database.app_url) as store:
        assert [(e.stream, e.hash) for s in (CASE, OTHER) for e in await store.read(s)] == events
        assert (await store.verify()).ok


async def test_the_application_role_cannot_prune(fresh_database: Database) -> None:
    result = await asyncio.to_thread(runner.invoke, cli, [
        "db", "prune-uploads", "--database-url", fresh_database.app_url])
    assert result.exit_code == 2 and "permission denied" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    result = await asyncio.to_thread(runner.invoke, cli, [
        "db", "prune-uploads", "--older-than-days", "0", "--database-url",
        fresh_database.admin_url])
    assert result.exit_code == 2 and "--older-than-days" in result.output
