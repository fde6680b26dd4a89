"""Checkpoints of the event log (issue 11): an honest log that only grew passes a kept
checkpoint; a history rewritten with its chains recomputed (which ``verify`` alone cannot
see) fails it; inclusion proofs of events; the ``drugfree audit`` commands."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from click.testing import Result
from typer.testing import CliRunner

from cli.main import app as cli
from domain import checkpoint as notes
from domain.identity import Signer
from domain.merkle import verify_inclusion
from eventstore import EventStore
from eventstore.canonical import event_hash
from service import ServiceError
from service.audit import Audit, verifier_of
from tests.conftest import Database
from tests.eventstore.conftest import event

pytestmark = pytest.mark.asyncio(loop_scope="session")

SIGNER = Signer.from_seed(bytes(range(200, 232)))


async def rewrite_last(admin: asyncpg.Connection, stream: str) -> None:
    """What a database administrator can do unseen by the chains: edit a stream's last event
    and recompute its hash (no later link points at it), with triggers off."""
    row = await admin.fetchrow("SELECT position, canonical FROM events WHERE stream = $1 "
                               "ORDER BY version DESC LIMIT 1", stream)
    forged = row["canonical"].replace(b'"hotspots":1', b'"hotspots":0')
    assert forged != row["canonical"]
    async with admin.transaction():
        await admin.execute("SET LOCAL session_replication_role = replica")
        await admin.execute(
            "UPDATE events SET canonical = $2, hash = $3, "
            "payload = jsonb_set(payload, '{metrics,hotspots}', '0') WHERE position = $1",
            row["position"], forged, event_hash(forged))


async def test_a_kept_checkpoint_catches_a_rewritten_history(
        fresh_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_VKEY", verifier_of(SIGNER))
    async with await EventStore.connect(fresh_database.app_url) as store:
        audit = Audit(store)
        empty = await audit.checkpoint(SIGNER, datetime.now(UTC))
        assert (await audit.consistency(empty)).old_size == 0
        await store.append("conversion:a:1", 0, [event(), event()])
        await store.append("conversion:b:1", 0, [event()])
        note = await audit.checkpoint(SIGNER, datetime.now(UTC))
        kept = notes.parse(note)
        assert kept.size == 3

        # an honest log that only grew: the kept checkpoint is a prefix of today's tree
        await store.append("conversion:a:1", 2, [event()])
        grown = await audit.consistency(note)
        assert (grown.old_size, grown.new_size) == (3, 4) and grown.proof
        assert (await audit.consistency(empty)).new_size == 4

        # one event is provably in the kept tree; a later one is not covered by it
        proof = await audit.inclusion("conversion:b:1", 1, note)
        verify_inclusion(proof.index, proof.size, proof.leaf, proof.proof, kept.root)
        with pytest.raises(ServiceError) as later:
            await audit.inclusion("conversion:a:1", 3, note)
        assert later.value.code == "audit.after_checkpoint"

        # a history rewritten with its chains recomputed: verify sees nothing, the
        # checkpoint does
        admin = await asyncpg.connect(fresh_database.admin_url)
        try:
            await rewrite_last(admin, "conversion:b:1")
        finally:
            await admin.close()
        assert (await store.verify()).ok
        with pytest.raises(ServiceError) as rewritten:
            await audit.consistency(note)
        assert rewritten.value.code == "audit.rewritten"
        assert rewritten.value.message_vi and "viết lại" in rewritten.value.message_vi
        with pytest.raises(ServiceError) as gone:
            await audit.inclusion("conversion:b:1", 1, note)
        assert gone.value.code == "audit.rewritten"

        # a forged or foreign checkpoint is refused before anything is compared
        other = notes.sign(notes.Checkpoint(kept.origin, kept.size, kept.root),
                           Signer.from_seed(bytes(32)))
        with pytest.raises(ServiceError) as forged:
            await audit.consistency(other)
        assert forged.value.code in ("checkpoint.unsigned", "checkpoint.bad_signature")


async def test_the_audit_commands(fresh_database: Database, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "checkpoint.pem"
    key.write_bytes(SIGNER.pem())
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_KEY", str(key))
    monkeypatch.setenv("DATABASE_URL", fresh_database.admin_url)
    runner = CliRunner()

    async def drugfree(*args: str) -> Result:  # the command runs its own event loop
        return await asyncio.to_thread(runner.invoke, cli, list(args))

    vkey = await drugfree("audit", "key")
    assert vkey.exit_code == 0, vkey.output
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_VKEY", vkey.output.strip())
    async with await EventStore.connect(fresh_database.app_url) as store:
        await store.append("conversion:c:1", 0, [event(), event()])

    kept = tmp_path / "checkpoint.txt"
    r = await drugfree("audit", "checkpoint", "--out", str(kept))
    assert r.exit_code == 0, r.output
    again = await drugfree("audit", "checkpoint", "--out", str(kept))
    assert again.exit_code == 2  # never overwritten
    r = await drugfree("audit", "verify", "--checkpoint", str(kept))
    assert r.exit_code == 0, r.output
    assert "2 sự kiện đầu vẫn y nguyên" in r.output
    r = await drugfree("audit", "prove", "conversion:c:1", "--event", "2",
                            "--checkpoint", str(kept), "--json")
    assert r.exit_code == 0, r.output

    admin = await asyncpg.connect(fresh_database.admin_url)
    try:
        await rewrite_last(admin, "conversion:c:1")
    finally:
        await admin.close()
    r = await drugfree("audit", "verify", "conversion:c:1")
    assert r.exit_code == 0  # the chain alone cannot tell
    r = await drugfree("audit", "verify", "--checkpoint", str(kept), "--lang", "en")
    assert r.exit_code == 1 and "[audit.rewritten]" in r.output
    # one plan's cases, with a progress bar; a broken one is named; choose one scope
    async with await EventStore.connect(fresh_database.app_url) as store:
        await store.append("conversion:p:1", 0, [event(), event()])
        await store.append("conversion:p:2", 0, [event()])
    r = await drugfree("audit", "verify", "--plan", "p")
    assert r.exit_code == 0 and "3 sự kiện trong 2 luồng" in r.output, r.output
    admin = await asyncpg.connect(fresh_database.admin_url)
    try:
        async with admin.transaction():
            await admin.execute("SET LOCAL session_replication_role = replica")
            await admin.execute("DELETE FROM events WHERE stream = 'conversion:p:1' "
                                "AND version = 1")
    finally:
        await admin.close()
    r = await drugfree("audit", "verify", "--plan", "p")
    assert r.exit_code == 1 and "conversion:p:1" in r.output, r.output
    assert (await drugfree("audit", "verify", "--plan", "nope")).exit_code == 2
    assert (await drugfree("audit", "verify", "conversion:p:2", "--all")).exit_code == 2
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\xff\xfe not a note")
    r = await drugfree("audit", "verify", "--checkpoint", str(garbage))
    assert r.exit_code == 2 and "Traceback" not in r.output
    # a file that is not a checkpoint is bad input (exit 2), not a rewritten history (exit 1)
    garbage.write_text(kept.read_text(encoding="utf-8").split("\n", 1)[1], encoding="utf-8")
    for command in (["verify"], ["prove", "conversion:c:1", "--event", "1"]):
        r = await drugfree("audit", *command, "--checkpoint", str(garbage))
        assert r.exit_code == 2, r.output
        assert r.output.startswith("error: ") and "[checkpoint.malformed]" in r.output


async def test_the_checkpoint_activity_keeps_notes_outside_the_database(
        fresh_database: Database, tmp_path: Path) -> None:
    """The scheduled job's activity: a new file each time (never overwritten) and the note
    posted to a webhook (a real local HTTP server); a webhook that fails is an error."""
    import http.server
    import threading

    from temporalio.exceptions import ApplicationError
    from temporalio.testing import ActivityEnvironment

    from activities.checkpoints import Checkpoints

    received: list[bytes] = []
    status = [200]

    class Keeper(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(status[0])
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keeper)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async with await EventStore.connect(fresh_database.app_url) as store:
            await store.append("conversion:d:1", 0, [event()])
            job = Checkpoints(store, SIGNER, tmp_path / "kept",
                              f"http://127.0.0.1:{server.server_port}/checkpoints")
            taken = await ActivityEnvironment().run(job.take)
            assert taken.size == 1 and taken.delivered and taken.file
            kept = Path(taken.file).read_text(encoding="utf-8")
            assert received == [kept.encode()]
            head = notes.verify(kept, SIGNER.key.public_key(), origin="drugfree.local/events")
            assert head.size == 1
            status[0] = 500
            with pytest.raises(ApplicationError) as failed:
                await ActivityEnvironment().run(job.take)
            assert failed.value.type == "checkpoint.webhook_failed"
            none = Checkpoints(store, None, tmp_path / "kept")
            with pytest.raises(ApplicationError) as nokey:
                await ActivityEnvironment().run(none.take)
            assert nokey.value.type == "audit.no_key" and nokey.value.non_retryable
    finally:
        server.shutdown()
