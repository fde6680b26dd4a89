"""``drugfree audit crosscheck`` and ``audit replay-code`` on the module's time-skipping server.

Communes 29509 and 29462 (tra-vinh-2025) are this module's alone; every workflow started here
is ended here (withdrawn), so that nothing holds the server's clock.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner
from typer.testing import CliRunner

from cli.main import app
from eventstore.store import EventStore
from service import crosscheck as cc
from tests.workflows.support import CLEAN, Case
from workflows.campaign import ProvinceCampaignWorkflow
from workflows.conversion import CommuneConversionWorkflow
from workflows.messages import RecognitionInput, RecognitionResult
from workflows.recognition import RecognitionWorkflow

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN = "tra-vinh-2025"
CHAIN_CASE, SHORT_CASE = "29509", "29462"


async def _tamper(admin_url: str, sql: str, *args: object) -> None:
    """What a superuser can still do: switch off the triggers for the session and edit."""
    conn = await asyncpg.connect(admin_url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            await conn.execute(sql, *args)
    finally:
        await conn.close()


def _cli(temporal: Any, case_db: str, *args: str, **extra: str) -> Any:
    client, _ = temporal
    env = {"TEMPORAL_ADDRESS": client.service_client.config.target_host,
           "DATABASE_URL": case_db, **extra}
    return CliRunner().invoke(app, ["audit", *args], env=env)


def _lines(result: Any) -> list[str]:
    """The command's own lines: the worker running in this process logs to stdout too."""
    return [line for line in result.stdout.splitlines() if not line.startswith("20")]


def _last_json(result: Any) -> Any:
    return json.loads(_lines(result)[-1])


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


async def test_a_case_through_its_decisions_crosschecks_clean(
        make_case: Any, store: EventStore, temporal: Any, case_db: str,
        state: dict[str, Any]) -> None:
    case: Case = await make_case(PLAN, CHAIN_CASE)
    handle = await case.start()
    try:
        select = await case.select()
        # a retried request is answered from the reply memory and appends nothing more
        again = await case.select(request_id=select.request_id)
        assert again == select
        await case.on_time_reports(case.plan.deadline("dossier").due)
        await case.advance_to(case.plan.deadline("dossier").due - timedelta(days=2))
        assert (await case.submit("dossier", CLEAN)).criteria_met is True
        first = case.plan.approval_chain[0]
        approvals = []
        for role in first.roles:
            rid = f"approve-{role}"
            await case.decide("approve", case.actor(role), first.id, request_id=rid)
            approvals.append(rid)
        await case.withdraw("crosscheck test ends the case")
    finally:
        for h in (handle, case.chain):
            try:
                await h.terminate(reason="crosscheck test over")
            except Exception:  # noqa: BLE001 - ended already (the usual case)
                pass

    client, _ = temporal
    report = await cc.crosscheck(client, store, case.id)
    assert report.differences == [], [str(d) for d in report.differences]
    assert report.agrees and not report.gone and not report.unverified
    assert [r.workflow_id for r in report.runs] == [case.id, case.rid]
    assert report.events == len(await store.read(case.id)) > 10
    assert report.updates >= 3 + len(first.roles)
    assert report.from_memory == [select.request_id]  # the retry, which appended nothing
    state["case"], state["approvals"] = case, approvals

    result = await asyncio.to_thread(_cli, temporal, case_db, "crosscheck", case.id, "--json",
                                     "--lang", "en")
    assert result.exit_code == 0, result.output
    out = _last_json(result)
    assert out["agrees"] is True and out["differences"] == []
    assert out["events"] == report.events

    text = await asyncio.to_thread(_cli, temporal, case_db, "crosscheck", case.id,
                                   "--lang", "en")
    assert text.exit_code == 0 and _lines(text)[-1].startswith("agree:"), text.output


async def test_a_decision_missing_from_the_store_is_named(
        store: EventStore, temporal: Any, case_db: str, state: dict[str, Any]) -> None:
    case: Case = state["case"]
    signed = [e for e in await store.read(case.id) if e.type == "level.signed"]
    assert signed, "the chain recorded its first level's signatures"
    victim = signed[0]
    await _tamper(case_db, "DELETE FROM events WHERE event_id = $1", victim.event_id)

    client, _ = temporal
    report = await cc.crosscheck(client, store, case.id)
    assert not report.agrees
    assert [(d.kind, d.event_id) for d in report.differences] == [
        ("store.missing", victim.event_id)]
    missing = report.differences[0]
    assert missing.request_id == state["approvals"][0]  # the decision that appended it
    assert missing.workflow_id == case.rid

    result = await asyncio.to_thread(_cli, temporal, case_db, "crosscheck", case.id, "--json")
    assert result.exit_code == 1, result.output
    out = _last_json(result)
    assert out["agrees"] is False
    assert [(d["kind"], d["event_id"], d["request_id"]) for d in out["differences"]] == [
        ("store.missing", victim.event_id, state["approvals"][0])]
    text = await asyncio.to_thread(_cli, temporal, case_db, "crosscheck", case.id,
                                   "--lang", "en")
    assert text.exit_code == 1
    assert f"event_id={victim.event_id}" in text.stdout
    assert f"request_id={state['approvals'][0]}" in text.stdout


async def test_an_event_deleted_and_one_inserted_are_named(
        store: EventStore, temporal: Any, case_db: str, state: dict[str, Any]) -> None:
    case: Case = state["case"]
    events = await store.read(case.id)
    started = next(e for e in events if e.type == "phase.started")  # a timeline event
    await _tamper(case_db, "DELETE FROM events WHERE event_id = $1", started.event_id)
    # a forged copy of the last event under an id no workflow ever derived
    last = events[-1]
    forged = f"{case.id}/case/9999"
    await _tamper(case_db,
                  "INSERT INTO events (position, stream, version, event_id, type, schema_version,"
                  " payload, canonical, hash, prev_hash, recorded_at) SELECT position + 1000,"
                  " stream, version + 1000, $2, type, schema_version, payload, canonical, hash,"
                  " prev_hash, recorded_at FROM events WHERE event_id = $1", last.event_id,
                  forged)

    client, _ = temporal
    report = await cc.crosscheck(client, store, case.id)
    found = {(d.kind, d.event_id) for d in report.differences}
    assert ("store.missing", started.event_id) in found
    assert ("history.missing", forged) in found
    timeline = next(d for d in report.differences if d.event_id == started.event_id)
    assert timeline.request_id is None and timeline.workflow_id == case.id
    assert len(report.differences) == 3  # with the decision deleted before
    state["timeline"], state["forged"] = started.event_id, forged


async def test_a_chain_whose_history_is_gone_is_reported_not_a_mismatch(
        store: EventStore, temporal: Any, state: dict[str, Any], monkeypatch: Any) -> None:
    """Retention, simulated: the service answers "not found" for the chain's run. Its events
    are unverified (the deleted decision is no longer a difference: nothing says it was
    there); the case's own differences (previous test) are still found."""
    case: Case = state["case"]
    real = cc._history

    async def retained(client: Any, workflow_id: str, run_id: str | None) -> Any:
        return None if workflow_id == case.rid else await real(client, workflow_id, run_id)

    monkeypatch.setattr(cc, "_history", retained)
    client, _ = temporal
    report = await cc.crosscheck(client, store, case.id)
    assert [(r.workflow_id, r.found) for r in report.runs] == [(case.id, True),
                                                                (case.rid, False)]
    chain_events = [e.event_id for e in await store.read(case.id)
                    if e.event_id.startswith(f"{case.id}/recognition/")]
    assert chain_events and report.unverified == chain_events
    assert {(d.kind, d.event_id) for d in report.differences} == {
        ("store.missing", state["timeline"]), ("history.missing", state["forged"])}


async def test_histories_sealed_with_another_key_are_one_line_exit_2(
        temporal: Any, case_db: str, state: dict[str, Any]) -> None:
    case: Case = state["case"]
    result = await asyncio.to_thread(_cli, temporal, case_db, "crosscheck", case.id,
                                     DRUGFREE_PAYLOAD_KEY="ab" * 32)
    assert result.exit_code == 2, result.output
    # names the key the histories need, in both languages
    assert "'drugfree-key-1'" in result.stderr and "không mở được" in result.stderr
    assert "Traceback" not in result.output


async def test_a_case_the_service_no_longer_holds_is_reported_gone(
        store: EventStore, temporal: Any) -> None:
    client, _ = temporal
    report = await cc.crosscheck(client, store, f"conversion:{PLAN}:29999")
    assert report.agrees and report.events == 0
    assert [(r.workflow_id, r.found) for r in report.runs] == [
        (f"conversion:{PLAN}:29999", False)]


# -- replay-code ---------------------------------------------------------------------------------


@workflow.defn(name="RecognitionWorkflow")
class ChangedRecognition(RecognitionWorkflow):
    """Today's chain with one change a deployment might bring: a pause before every append,
    a command (a timer) the recorded histories never issued."""

    @workflow.run
    async def run(self, inp: RecognitionInput) -> RecognitionResult:
        return await super().run(inp)

    async def _emit(self, events: list[Any], awaiting: Any = ()) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super()._emit(events, awaiting)


async def test_replay_code_passes_today_and_flags_a_non_deterministic_change(
        make_case: Any, store: EventStore, temporal: Any, state: dict[str, Any],
        monkeypatch: Any) -> None:
    client, _ = temporal
    short: Case = await make_case(PLAN, SHORT_CASE)
    # a small history limit: the case continues as new on its way through the phases
    await short.start(history_limit=50)
    try:
        await short.select()
        await short.on_time_reports(short.plan.deadline("phase_2_report").due)
        await short.withdraw("replay-code test ends the case")
    finally:
        try:
            await short.handle.terminate(reason="replay-code test over")
        except Exception:  # noqa: BLE001 - ended already (the usual case)
            pass
    # crosscheck follows the runs back through continue-as-new
    checked = await cc.crosscheck(client, store, short.id)
    assert checked.agrees, [str(d) for d in checked.differences]
    runs = [(r.workflow_id, r.run_id) for r in checked.runs]
    assert len(runs) > 1 and {w for w, _ in runs} == {short.id}
    assert checked.events == len(await store.read(short.id))

    chain_case: Case = state["case"]
    executions: list[tuple[str, str | None]] = [
        (chain_case.id, None), (chain_case.rid, None), *runs]

    report = await cc.replay_code(client, executions)
    assert report.failures == [] and report.replayed == len(executions) and report.gone == []

    seen: list[tuple[int, int]] = []
    changed = await cc.replay_code(
        client, executions, workflows=[CommuneConversionWorkflow, ChangedRecognition,
                                       ProvinceCampaignWorkflow],
        runner=UnsandboxedWorkflowRunner(), progress=lambda n, t: seen.append((n, t)) or None,
        every=2)
    assert [(f.workflow_id, f.workflow_type) for f in changed.failures] == [
        (chain_case.rid, "RecognitionWorkflow")], changed.failures
    assert "Nondeterminism" in changed.failures[0].error or \
        "nondetermin" in changed.failures[0].error.lower()
    total = len(executions)
    assert seen == [(n, total) for n in range(2, total + 1, 2)] + (
        [(total, total)] if total % 2 else [])

    # the command: the list comes from the workflow service's visibility (which the test
    # server lacks), so the listing is replaced by these executions here
    async def listed(_client: Any, task_queue: str, plan: str | None = None,
                     limit: int | None = None) -> list[tuple[str, str | None]]:
        assert plan == PLAN and limit == 5 and task_queue == short.tq
        return executions

    monkeypatch.setattr(cc, "listed", listed)
    result = await asyncio.to_thread(
        _cli, temporal, "unused", "replay-code", "--plan", PLAN, "--limit", "5",
        "--task-queue", short.tq, "--every", "1", "--lang", "en")
    assert result.exit_code == 0, result.output
    assert f"{total} histories replayed, 0 non-deterministic" in result.stdout
    assert "replayed 1/" in result.stderr and f"replayed {total}/{total}" in result.stderr

    async def broken(client: Any, executions: Any, **kw: Any) -> cc.ReplayReport:
        return await real(client, executions, workflows=[
            CommuneConversionWorkflow, ChangedRecognition, ProvinceCampaignWorkflow],
            runner=UnsandboxedWorkflowRunner(), **kw)

    real = cc.replay_code
    monkeypatch.setattr(cc, "replay_code", broken)
    result = await asyncio.to_thread(
        _cli, temporal, "unused", "replay-code", "--plan", PLAN, "--limit", "5",
        "--task-queue", short.tq, "--json")
    assert result.exit_code == 1, result.output
    out = _last_json(result)
    assert [f["workflow_id"] for f in out["failures"]] == [chain_case.rid]


async def test_the_visibility_query_names_the_plan_ids() -> None:
    assert cc.visibility_query("drugfree") == "TaskQueue = 'drugfree'"
    q = cc.visibility_query("drugfree", PLAN)
    assert f"WorkflowId STARTS_WITH 'conversion:{PLAN}:'" in q
    assert f"WorkflowId STARTS_WITH 'recognition:{PLAN}:'" in q
    assert f"WorkflowId = 'campaign:{PLAN}'" in q
    with pytest.raises(ValueError):
        cc.visibility_query("x' OR '1'='1")
