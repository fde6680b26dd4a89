"""``drugfree audit replay`` and the self-verifiable export (issue 11) against a fresh
database: a full year of a case (the events the deciders produce, ``tests.domain.test_replay``)
replayed now and at an instant; exported as JSON Lines and CSV, then checked offline by
``audit verify --file``; every kind of tampering with the file names its line."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from catalog import get_plan
from cli.main import app as cli
from domain.events import EVENT_TYPES
from domain.identity import Signer
from domain.plan import plan_document, plan_hash
from eventstore import EventStore, NewEvent
from eventstore.canonical import event_hash
from eventstore.plan_versions import PlanVersions
from service.audit import verifier_of
from tests.conftest import Database
from tests.domain.test_replay import YEAR

pytestmark = pytest.mark.asyncio(loop_scope="session")

SIGNER = Signer.from_seed(bytes(range(100, 132)))
CASE = "conversion:tra-vinh-2025:29269"
OTHER = "conversion:tra-vinh-2025:29503"
VN = timezone(timedelta(hours=7))
runner = CliRunner()


async def drugfree(*args: str) -> Result:  # the command runs its own event loop
    return await asyncio.to_thread(runner.invoke, cli, list(args))


def new(i: int, stream: str, type_: str, payload: dict[str, object]) -> NewEvent:
    known = EVENT_TYPES.get(type_)
    return NewEvent(f"{stream}/{i}", type_, known.SCHEMA_VERSION if known else 1, payload)


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_database: Database) -> str:
    key = tmp_path / "checkpoint.pem"
    key.write_bytes(SIGNER.pem())
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_KEY", str(key))
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_VKEY", verifier_of(SIGNER))
    monkeypatch.setenv("DATABASE_URL", fresh_database.admin_url)
    return verifier_of(SIGNER)


async def test_replay_now_and_at_an_instant(fresh_database: Database, keys: str) -> None:
    events = YEAR.events
    half = next(i for i, e in enumerate(events) if e.type == "dossier.resubmitted")
    async with await EventStore.connect(fresh_database.app_url) as store:
        await store.append(CASE, 0, [new(i, CASE, e.type, e.payload)
                                     for i, e in enumerate(events[:half])])
        await asyncio.sleep(0.01)
        cut = datetime.now(UTC)
        await asyncio.sleep(0.01)
        await store.append(CASE, half, [new(i, CASE, e.type, e.payload)
                                        for i, e in enumerate(events[half:], start=half)])

    r = await drugfree("audit", "replay", CASE, "--json")
    assert r.exit_code == 0, r.output
    now = json.loads(r.output)
    assert (now["outcome"], now["version"], now["round"]) == ("recognised", len(events), 2)
    assert now["missed"] == ["phase_1_report", "forum_q2", "phase_3_report"]
    version = plan_hash(get_plan("tra-vinh-2025"))
    assert (now["plan_at_opening"], now["plan_hash"]) == (version, version)

    r = await drugfree("audit", "replay", CASE, "--at", cut.isoformat(), "--json")
    assert r.exit_code == 0, r.output
    then = json.loads(r.output)
    assert (then["version"], then["total"]) == (half, len(events))
    assert (then["chain"], then["pending_level"], then["round"]) == ("returned", None, 1)
    assert then["rejections"][0]["reason"] == "thiếu biên bản / minutes missing"
    assert then["outcome"] is None and then["status"] == "in_recognition"
    # without a zone: Viet Nam's time
    naive = cut.astimezone(VN).replace(tzinfo=None).isoformat()
    r = await drugfree("audit", "replay", CASE, "--at", naive, "--json")
    assert json.loads(r.output)["version"] == half

    r = await drugfree("audit", "replay", CASE, "--at", cut.isoformat())
    assert r.exit_code == 0, r.output
    assert "(giờ Việt Nam)" in r.output and "Diễn biến:" in r.output
    assert "trả lại tại district_review" in r.output and "[đúng hạn]" in r.output
    assert f"Phiên bản kế hoạch: {version[:16]}\n" in r.output
    assert f"{cut.astimezone(VN):%d/%m/%Y %H:%M}" in r.output
    r = await drugfree("audit", "replay", CASE, "--lang", "en")
    assert "Timeline:" in r.output and "[late]" in r.output and "[missed]" in r.output

    r = await drugfree("audit", "replay", CASE, "--at", "last tuesday")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1
    assert "ISO 8601" in r.output
    r = await drugfree("audit", "replay", "conversion:tra-vinh-2025:29999")
    assert r.exit_code == 2 and "conversion:tra-vinh-2025:29999" in r.output
    assert "Traceback" not in r.output


async def test_replay_is_named_by_the_version_the_case_opened_under(
        fresh_database: Database, keys: str) -> None:
    """A newer version of the plan (another title) is stored; the case opened under the
    catalogue's version, which the store holds, so its replay keeps that version's names."""
    plan = get_plan("tra-vinh-2025")
    opened_under = plan_hash(plan)
    newer = plan.model_copy(update={"title_vi": plan.title_vi + " (sửa đổi)"})
    async with await EventStore.connect(fresh_database.app_url) as store:
        versions = PlanVersions(store.pool)
        for p in (plan, newer):
            await versions.add(p.id, plan_hash(p), plan_document(p), "published")
        assert (await versions.latest(plan.id)).content_hash == plan_hash(newer)  # type: ignore[union-attr]
        await store.append(CASE, 0, [new(i, CASE, e.type, e.payload)
                                     for i, e in enumerate(YEAR.events[:5])])

    r = await drugfree("audit", "replay", CASE, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["named_by"] == opened_under
    r = await drugfree("audit", "replay", CASE)
    assert f"Phiên bản kế hoạch: {opened_under[:16]}\n" in r.output

    # an opening that did not record its version is named by the newest version, and says so
    async with await EventStore.connect(fresh_database.app_url) as store:
        unrecorded = {k: v for k, v in YEAR.events[0].payload.items() if k != "plan_hash"}
        await store.append(OTHER, 0, [NewEvent(f"{OTHER}/0", "case.opened", 1, unrecorded)])
    r = await drugfree("audit", "replay", OTHER, "--json")
    assert json.loads(r.output)["named_by"] == plan_hash(newer)
    assert json.loads(r.output)["plan_at_opening"] is None
    r = await drugfree("audit", "replay", OTHER)
    assert ("Phiên bản kế hoạch: không được ghi khi mở hồ sơ · tên gọi theo phiên bản "
            f"{plan_hash(newer)[:16]}") in r.output


async def _two_cases(fresh_database: Database) -> None:
    async with await EventStore.connect(fresh_database.app_url) as store:
        await store.append(CASE, 0, [new(i, CASE, e.type, e.payload)
                                     for i, e in enumerate(YEAR.events[:10])])
        await store.append("conversion:other-plan:1", 0, [new(0, "x", "case.opened", {})])
        await store.append(OTHER, 0, [new(i, OTHER, e.type, e.payload)
                                      for i, e in enumerate(YEAR.events[:6])])
        await store.append(CASE, 10, [new(i, CASE, e.type, e.payload)
                                      for i, e in enumerate(YEAR.events[10:20], start=10)])


async def test_export_then_verify_offline(fresh_database: Database, keys: str,
                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    await _two_cases(fresh_database)
    one = tmp_path / "case.jsonl"
    r = await drugfree("audit", "export", CASE, "--out", str(one))
    assert r.exit_code == 0, r.output
    lines = one.read_text().splitlines()
    assert len(lines) == 1 + 20 + 1
    event = json.loads(lines[1])
    assert event["version"] == 1 and event["prev_hash"] == "00" * 32
    assert event_hash(event["canonical"].encode()).hex() == event["hash"]
    assert json.loads(lines[-1])["events"] == 20

    # offline: no database at all
    monkeypatch.delenv("DATABASE_URL")
    r = await drugfree("audit", "verify", "--file", str(one))
    assert r.exit_code == 0, r.output
    assert "toàn vẹn: 20 sự kiện trong 1 luồng" in r.output
    monkeypatch.delenv("DRUGFREE_CHECKPOINT_VKEY")
    r = await drugfree("audit", "verify", "--file", str(one), "--key", keys, "--json")
    assert r.exit_code == 0 and json.loads(r.output)["broken"] is None
    other_key = verifier_of(Signer.from_seed(bytes(32)))
    r = await drugfree("audit", "verify", "--file", str(one), "--key", other_key)
    assert r.exit_code == 1 and f"dòng {len(lines)}" in r.output
    monkeypatch.setenv("DRUGFREE_CHECKPOINT_VKEY", keys)
    monkeypatch.setenv("DATABASE_URL", fresh_database.admin_url)

    # a whole plan, as CSV (26 events of two cases; the other plan's case is not in it)
    plan = tmp_path / "plan.csv"
    r = await drugfree("audit", "export", "--plan", "tra-vinh-2025", "--format", "csv",
                       "--out", str(plan))
    assert r.exit_code == 0, r.output
    r = await drugfree("audit", "verify", "--file", str(plan), "--lang", "en")
    assert r.exit_code == 0, r.output
    assert "ok: 26 events in 2 streams" in r.output
    r = await drugfree("audit", "export", "--plan", "tra-vinh-2025", "--out", str(plan))
    assert r.exit_code == 2  # never overwritten
    r = await drugfree("audit", "export", "--plan", "no-such-plan")
    assert r.exit_code == 2 and "no-such-plan" in r.output
    r = await drugfree("audit", "export", "conversion:tra-vinh-2025:1")
    assert r.exit_code == 2 and "conversion:tra-vinh-2025:1" in r.output
    r = await drugfree("audit", "export", CASE)  # to stdout
    assert r.exit_code == 0 and len(r.output.splitlines()) == 22


async def _broken(path: Path, lang: str = "en") -> str:
    r = await drugfree("audit", "verify", "--file", str(path), "--lang", lang)
    assert r.exit_code == 1, r.output
    return r.output


async def test_a_tampered_export_names_its_line(fresh_database: Database, keys: str,
                                                tmp_path: Path) -> None:
    await _two_cases(fresh_database)
    good = tmp_path / "good.jsonl"
    r = await drugfree("audit", "export", "--plan", "tra-vinh-2025", "--out", str(good))
    assert r.exit_code == 0, r.output
    lines = good.read_text().splitlines(keepends=True)
    last = len(lines)

    def variant(name: str, edited: list[str]) -> Path:
        path = tmp_path / name
        path.write_text("".join(edited))
        return path

    # a payload edited (line 5 is version 4 of the first stream)
    record = json.loads(lines[4])
    assert record["version"] == 4
    forged = json.loads(lines[4])
    forged["canonical"] = forged["canonical"].replace('"p-', '"q-', 1) \
        if '"p-' in forged["canonical"] else forged["canonical"].replace("}", ',"x":1}', 1)
    assert forged["canonical"] != record["canonical"]
    out = await _broken(variant("payload.jsonl", [*lines[:4], json.dumps(forged) + "\n",
                                                  *lines[5:]]))
    assert "line 5:" in out and "hash does not match" in out
    # the same edit with its hash recomputed: its inclusion proof fails
    forged["hash"] = event_hash(forged["canonical"].encode()).hex()
    out = await _broken(variant("rehashed.jsonl", [*lines[:4], json.dumps(forged) + "\n",
                                                   *lines[5:]]))
    assert "line 5:" in out and "proof fails" in out
    # ... and with the proof and the next link forged too (its prev_hash, so line 6's
    # hash): the next line's hash fails
    forged_next = json.loads(lines[5])
    forged_next["prev_hash"] = forged["hash"]
    out = await _broken(variant("relinked.jsonl", [*lines[:5], json.dumps(forged_next) + "\n",
                                                   *lines[6:]]))
    assert "line 6:" in out
    # on a stream's last line, where no link follows: its inclusion proof fails
    end = max(i for i, line in enumerate(lines[1:-1], start=1)
              if json.loads(line)["stream"] == record["stream"])
    tail = json.loads(lines[end])
    tail["canonical"] = tail["canonical"].replace('{"payload":{', '{"payload":{"x":1,', 1)
    tail["hash"] = event_hash(tail["canonical"].encode()).hex()
    out = await _broken(variant("tail.jsonl", [*lines[:end], json.dumps(tail) + "\n",
                                               *lines[end + 1:]]))
    assert f"line {end + 1}:" in out and "proof fails" in out
    # a line deleted
    out = await _broken(variant("deleted.jsonl", [*lines[:6], *lines[7:]]))
    assert "line 7:" in out and "missing or out of order" in out
    # two lines swapped
    out = await _broken(variant("swapped.jsonl", [*lines[:3], lines[4], lines[3],
                                                  *lines[5:]]), "vi")
    assert "dòng 4:" in out
    # a stream's last line deleted: the chain cannot tell, the counts can
    out = await _broken(variant("cut.jsonl", [*lines[:end], *lines[end + 1:]]))
    assert f"line {last - 1}:" in out and "lines were removed" in out
    # ... and with the counts mended to match, as a forger would: the signed heads still tell
    mended = json.loads(lines[-1])
    mended["events"] -= 1
    cut = variant("mended.jsonl", [*lines[:end], *lines[end + 1:-1], json.dumps(mended) + "\n"])
    out = await _broken(cut)
    assert f"line {last - 1}:" in out and "its last events were removed" in out
    assert f"{record['stream']} ends at version {tail['version'] - 1} in the file" in out
    # ... and the heads edited to the cut too: their signature fails
    mended["heads"] = [[n, v - 1 if n == record["stream"] else v, h if n != record["stream"]
                        else json.loads(lines[end - 1])["hash"]] for n, v, h in mended["heads"]]
    out = await _broken(variant("resigned.jsonl", [*lines[:end], *lines[end + 1:-1],
                                                   json.dumps(mended) + "\n"]))
    assert "signature of the streams' ends does not verify" in out
    # a whole stream left out, the counts mended: named
    first_stream = [i for i, line in enumerate(lines[1:-1], start=1)
                    if json.loads(line)["stream"] == record["stream"]]
    dropped = json.loads(lines[-1])
    dropped["events"] -= len(first_stream)
    dropped["streams"] -= 1
    out = await _broken(variant("dropped.jsonl", [lines[0], *lines[first_stream[-1] + 1:-1],
                                                  json.dumps(dropped) + "\n"]))
    assert f"{record['stream']} is in the signed export but not in the file" in out
    # an export of the older format (no signed heads) verifies, and says what it cannot prove
    old = json.loads(lines[0])
    old["format"] = "drugfree-audit-export/1"
    unsigned = json.loads(lines[-1])
    del unsigned["heads"], unsigned["heads_signature"]
    older = variant("older.jsonl", [json.dumps(old) + "\n", *lines[1:-1],
                                    json.dumps(unsigned) + "\n"])
    r = await drugfree("audit", "verify", "--file", str(older), "--lang", "en")
    assert r.exit_code == 0 and "cannot be proven" in r.output, r.output
    r = await drugfree("audit", "verify", "--file", str(good), "--json")
    assert json.loads(r.output)["complete"] is True
    r = await drugfree("audit", "verify", "--file", str(good))
    assert "đầy đủ: mỗi luồng kết thúc đúng nơi chữ ký của tệp xuất ghi" in r.output
    # the checkpoint edited
    cp = json.loads(lines[-1])
    note = cp["checkpoint"].split("\n")
    note[1] = str(int(note[1]) + 1)
    cp["checkpoint"] = "\n".join(note)
    out = await _broken(variant("checkpoint.jsonl", [*lines[:-1], json.dumps(cp) + "\n"]))
    assert f"line {last}:" in out and "checkpoint" in out
    # the checkpoint removed
    out = await _broken(variant("nocheckpoint.jsonl", lines[:-1]))
    assert "does not end with its checkpoint" in out
    # a line that is not JSON
    out = await _broken(variant("garbled.jsonl", [*lines[:2], "{not json\n", *lines[3:]]))
    assert "line 3:" in out

    # the CSV form: a payload edited names its line
    csv_file = tmp_path / "good.csv"
    r = await drugfree("audit", "export", CASE, "--format", "csv", "--out", str(csv_file))
    assert r.exit_code == 0, r.output
    rows = csv_file.read_text().splitlines(keepends=True)
    assert "p-district_ubnd" in rows[2]
    out = await _broken(variant("edited.csv", [*rows[:2], rows[2].replace(
        "p-district_ubnd", "p-district_xxxx", 1), *rows[3:]]))
    assert "line 3:" in out

    # unreadable: exit 2
    for name, data in (("binary.jsonl", b"\xff\xfe\x00"), ("empty.jsonl", b""),
                       ("other.txt", b"hello\n")):
        (tmp_path / name).write_bytes(data)
        r = await drugfree("audit", "verify", "--file", str(tmp_path / name))
        assert r.exit_code == 2 and "Traceback" not in r.output, (name, r.output)
    assert "không phải tệp xuất" in r.output  # Vietnamese first, as every refusal
    r = await drugfree("audit", "verify", "--file", str(tmp_path / name), "--lang", "en")
    assert "not an export" in r.output
    r = await drugfree("audit", "verify", "--file", str(tmp_path / "absent.jsonl"))
    assert r.exit_code == 2


async def test_the_shared_proofs_are_merkle_inclusion_proofs() -> None:
    import hashlib

    from domain.merkle import inclusion_proof, leaf_hash
    from service.export import _Paths

    for n in (1, 2, 3, 31, 32, 33, 100, 1025):
        leaves = b"".join(leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest())
                          for i in range(n))
        paths = _Paths(leaves, n)
        each = [leaves[j * 32:(j + 1) * 32] for j in range(n)]
        for i in range(n):
            assert paths.proof(i) == inclusion_proof(i, n, each), (n, i)
