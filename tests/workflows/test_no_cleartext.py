"""Issue 14: no case value in clear where Temporal keeps histories, nor in what a worker logs.

One full conversion case (Trà Vinh 2025, commune 29440: selection, every report with metrics
and a summary, the dossier, a rejection and a resubmission, every approval with a free-text
reason, the preliminary review report, recognition) runs with distinctive values, while
everything the process logs is captured at DEBUG: structlog (``runtime.logs.configure``), the
stdlib records of every logger (the Temporal SDK's too) through a handler on the root logger,
and what reaches file descriptors 1 and 2. Along the way the case meets refused input quoting
secrets (a validator's refusal, an oversize summary, a refused withdrawal), an activity that
fails once with an error quoting the submitted values (as a database error can), then retries,
and a read-model write that fails once as asyncpg fails, quoting a reason (the projector used
to log that text: fixed in eventstore/projector.py).

Then the histories of every workflow of the case are read back raw through the workflow
service's API (no data converter: nothing decrypts) and searched for those values, in binary
and JSON form; the same search over the histories decoded with the codec finds them, so it
would find cleartext.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
import structlog
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.json_format import MessageToJson
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from activities.contracts import AppendRequest
from activities.persist import EventActivities
from catalog import get_plan
from eventstore import projector
from runtime import logs
from runtime.codec import ENCODING, KEY_ID, EncryptionCodec, codec_from_env
from service import ServiceError
from tests.workflows.support import BASELINE, CLEAN, Case, eventually, rid
from workflows import names
from workflows.messages import MAX_TEXT, ReportSubmission

pytestmark = pytest.mark.asyncio(loop_scope="session")

PLAN, COMMUNE, DISTRICT, PROVINCE = "tra-vinh-2025", "29440", "848", "84"

# Distinctive values: long enough that neither random ciphertext (nor its base64) nor an id
# or a timestamp contains them by chance.
POPULATION = 7331579  # every report's and the dossier's metrics
HOUSEHOLDS = 7331642
BASELINE_COMMITTED = 6133197  # the baseline's (households_committed)
REFUSED_COUNT = 7331864  # a refused report's (more than its whole, addicts_total)
REASON = "lý do riêng tư 9q8w7e6r"  # every decision's free text
SUMMARY = "Báo cáo thôn Bí Ẩn 5x7z3c1v"  # every report's text
PERSON = "Nguyễn Văn Bí mật"  # a reviewer's and the selector's person id
REFUSED_TEXT = "ghi chú bị từ chối 8u2p4k6m"  # only ever in refused input

MARKED: dict[str, Any] = {**CLEAN, "population": POPULATION, "households_total": HOUSEHOLDS,
                          "households_committed": HOUSEHOLDS}
RECORDED: list[str | int] = [POPULATION, HOUSEHOLDS, BASELINE_COMMITTED, REASON, SUMMARY, PERSON]
SECRETS: list[str | int] = [*RECORDED, REFUSED_COUNT, REFUSED_TEXT]


def forms(secret: str | int) -> list[bytes]:
    """How a value could appear: as UTF-8, JSON-escaped (``\\u1ec5``), a number also with
    thousands separators, a text also by its ASCII tag alone (a rendering that escaped the
    rest)."""
    if isinstance(secret, int):
        return [str(secret).encode(), f"{secret:,}".encode(),
                f"{secret:,}".replace(",", ".").encode()]
    out = [secret.encode(), json.dumps(secret)[1:-1].encode(),
           secret.encode("unicode_escape")]
    tag = secret.rsplit(" ", 1)[-1]
    if tag.isascii() and len(tag) >= 8:
        out.append(tag.encode())
    return out


def found(blob: bytes, secrets: Sequence[str | int]) -> list[str]:
    return [f"{s!r} as {f!r}" for s in secrets for f in dict.fromkeys(forms(s)) if f in blob]


# -- what the workflow service stores, read raw --------------------------------------------


async def raw_run(client: Client, workflow_id: str, run_id: str) -> list[HistoryEvent]:
    """One run's history through the workflow service's API, page by page: the events as the
    server keeps them, no data converter (hence no codec) in the way."""
    events: list[HistoryEvent] = []
    token = b""
    while True:
        page = await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace, next_page_token=token,
                execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id)))
        events.extend(page.history.events)
        token = page.next_page_token
        if not token:
            return events


async def raw_histories(client: Client, roots: Sequence[str]) -> dict[str, list[HistoryEvent]]:
    """Every run of ``roots`` and of the children they started, by ``workflow id/run id``:
    earlier runs followed through continue-as-new, children through their start events."""
    out: dict[str, list[HistoryEvent]] = {}
    todo = list(roots)
    while todo:
        wid = todo.pop(0)
        run_id: str | None = (await client.get_workflow_handle(wid).describe()).run_id
        while run_id:
            events = await raw_run(client, wid, run_id)
            out[f"{wid}/{run_id}"] = events
            for e in events:
                if e.HasField("start_child_workflow_execution_initiated_event_attributes"):
                    child = e.start_child_workflow_execution_initiated_event_attributes
                    if child.workflow_id not in todo and not any(
                            k.startswith(child.workflow_id + "/") for k in out):
                        todo.append(child.workflow_id)
            started = events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id or None
    return out


def payloads_in(msg: Message) -> Iterator[Payload]:
    """Every ``Payload`` anywhere in ``msg`` (inputs, results, update arguments, failures'
    encoded attributes, headers, memos): references into ``msg``, so they can be replaced."""
    for fd, value in msg.ListFields():
        if fd.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if fd.message_type.GetOptions().map_entry:
            items = list(value.values())
        elif fd.is_repeated:
            items = list(value)
        else:
            items = [value]
        for item in items:
            if isinstance(item, Payload):
                yield item
            elif isinstance(item, Message):
                yield from payloads_in(item)


def temporals_own(event: HistoryEvent) -> list[Payload]:
    """The payloads of ``event`` that the SDK's core and the server keep plain, and what they
    may hold: a patch marker (``workflow.patched``: the patch's id) and the search attribute
    that indexes it (``TemporalChangeVersion``). Nothing of a case: checked here."""
    own: list[Payload] = []
    if event.HasField("marker_recorded_event_attributes"):
        marker = event.marker_recorded_event_attributes
        if marker.marker_name == "core_patch":
            for payloads in marker.details.values():
                for p in payloads.payloads:
                    assert set(json.loads(p.data)) == {"id", "deprecated"}, p.data
                    own.append(p)
    if event.HasField("upsert_workflow_search_attributes_event_attributes"):
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        for key, p in fields.indexed_fields.items():
            assert key == "TemporalChangeVersion", key
            assert all(isinstance(v, str) for v in json.loads(p.data)), p.data
            own.append(p)
    return own


def serialized(events: Sequence[HistoryEvent]) -> bytes:
    """Each event in protobuf binary and in JSON (bytes fields there in base64)."""
    return b"\n".join(e.SerializeToString() + b"\n" + MessageToJson(e).encode()
                      for e in events)


async def decoded(events: Sequence[HistoryEvent], codec: EncryptionCodec) -> list[HistoryEvent]:
    """Copies of ``events`` with every payload opened by the codec, as a client would."""
    out = []
    for e in events:
        copy = HistoryEvent()
        copy.CopyFrom(e)
        for p in payloads_in(copy):
            p.CopyFrom((await codec.decode([p]))[0])
        out.append(copy)
    return out


# -- what the process logs -----------------------------------------------------------------


@dataclass
class Captured:
    logged: io.StringIO = field(default_factory=io.StringIO)  # structlog and stdlib records
    printed: str = ""  # what reached sys.stdout / sys.stderr and file descriptors 1 and 2

    @property
    def text(self) -> str:
        return self.logged.getvalue() + "\n" + self.printed


@contextlib.contextmanager
def capturing() -> Iterator[Captured]:
    """Everything logged or printed in the block, at DEBUG, configured as a worker does it
    (``runtime.logs.configure``): one stream for structlog and the root logger's handler,
    which ``configure`` gives the SDK records' filter. Undone afterwards, so that the other
    modules' tests log as before."""
    cap = Captured()
    root = logging.getLogger()
    level, filters = root.level, {h: list(h.filters) for h in root.handlers}
    config = structlog.get_config()
    handler = logging.StreamHandler(cap.logged)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    # the handler first: configure() filters the root logger's handlers present when it runs
    # (and adds none of its own while there is one: logging.basicConfig)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    logs.configure("DEBUG", stream=cap.logged)
    assert any(isinstance(f, logs.WithholdFailureText) for f in handler.filters)
    # A logger that caches on first use keeps the stream it met then, for the rest of the
    # session: the module-level loggers (drugfree.persist, drugfree.notify, ...) would go on
    # writing here after this module. Same processors and stream, nothing cached.
    structlog.configure(cache_logger_on_first_use=False)
    sys.stdout.flush()
    sys.stderr.flush()
    printed = io.StringIO()
    with tempfile.TemporaryFile() as fds:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        try:
            for fd in saved:
                os.dup2(fds.fileno(), fd)
            with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                yield cap
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            root.removeHandler(handler)
            root.setLevel(level)
            for h, before in filters.items():
                h.filters[:] = before
            structlog.reset_defaults()
            structlog.configure(**config)
            fds.seek(0)
            cap.printed = fds.read().decode("utf-8", "replace") + printed.getvalue()


# -- the case ------------------------------------------------------------------------------


@dataclass
class FullCase:
    case: Case
    captured: Captured
    histories: dict[str, list[HistoryEvent]]
    recorded: str  # the event store's payloads of the case, as JSON
    failures: list[str]  # the injected failures' messages: the append's, the projector's
    notices: int  # the case's notices for the log channel, all delivered


async def refused(coro: Any, code: str) -> None:
    with pytest.raises(ServiceError) as info:
        await coro
    assert info.value.code == code, f"{info.value.code}: {info.value.message}"


async def run_case(case: Case) -> None:
    """Start to recognition, with the refused inputs and the failing activity on the way."""
    plan = case.plan
    commune = case.actor("commune_ubnd")
    person = dict(person=PERSON)
    handle = await case.start({**BASELINE, "population": POPULATION,
                               "households_total": HOUSEHOLDS,
                               "households_committed": BASELINE_COMMITTED})
    await case.select(reason=REASON, actor=case.actor("province_police", **person))

    # refused input quoting secrets: by the case's validator (a part above its whole, a
    # wrong role), by the payload converter before any handler (an oversize summary)
    first = plan.deadline("phase_1_report")
    await case.advance_to(plan.deadline("implementation_plan").due - timedelta(days=1))
    await refused(case.submit(first.id, {**MARKED, "addicts_with_records": REFUSED_COUNT}),
                  "metrics.invalid")
    await refused(case.withdraw(REFUSED_TEXT, actor=commune), "case.wrong_role")
    oversize = (REFUSED_TEXT + " ") * (MAX_TEXT // len(REFUSED_TEXT) + 1)
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await case.handle.execute_update(names.SUBMIT_REPORT, ReportSubmission.model_construct(
            request_id=rid(), actor=commune, deadline_id=first.id, kind=None, metrics=MARKED,
            summary=oversize, attachments=[]))
    assert isinstance(info.value.cause, ApplicationError)
    assert info.value.cause.type == "input.invalid"

    for d in sorted(plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list", "dossier"):
            continue
        if d.due > plan.deadline("phase_2_report").due:
            continue
        await case.advance_to(d.due - timedelta(days=1))
        await case.service.submit(case.ref, commune, d.id,
                                  MARKED if d.kind == "phase_report" else None,
                                  summary=SUMMARY, request_id=rid())
    await case.advance_to(plan.deadline("dossier").due - timedelta(days=2))
    assert (await case.submit("dossier", MARKED)).criteria_met is True
    chain = plan.approval_chain
    await case.decide("reject", case.actor(chain[0].roles[0]), chain[0].id, reason=REASON)
    await case.decide("resubmit", commune)
    for lv in chain:
        for role in lv.roles:
            actor = case.actor(role, **person) if role == "province_ubnd" else case.actor(role)
            await case.decide("approve", actor, lv.id, reason=REASON)

    await case.advance_to(plan.deadline("phase_3_report").due - timedelta(days=1))
    # the preliminary review (phase 3) report
    await case.service.submit(case.ref, commune, "phase_3_report", MARKED, summary=SUMMARY,
                              request_id=rid())
    assert (await handle.result()).outcome == "recognised"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def full_case(temporal: Any, worker: str, store: Any) -> AsyncIterator[FullCase]:
    client, env = temporal
    plan = get_plan(PLAN)
    case = Case(client, env, PLAN, COMMUNE, DISTRICT, PROVINCE, worker,
                today=plan.local_date(await env.get_current_time()))
    failed: list[str] = []
    real = EventActivities._append

    async def append_failing_once(self: EventActivities, req: AppendRequest) -> Any:
        """The first append of the first phase report fails as a database error would that
        quotes the row (a constraint's DETAIL line): the activity is retried."""
        if not failed and any(e.type == "report.submitted" and
                              e.payload.get("deadline_id") == "phase_1_report"
                              for e in req.events):
            failed.append(f'duplicate key value violates unique constraint "events_pkey" '
                          f'DETAIL: Key (payload)=({{"population": {POPULATION}, '
                          f'"summary": "{SUMMARY}", "by": "{PERSON}"}}) already exists.')
            raise RuntimeError(failed[-1])
        return await real(self, req)

    real_save = projector._save

    async def save_failing_once(conn: Any, model: Any, changed: set[str]) -> None:
        """The read model's first write of a rejection's reason fails as asyncpg fails an
        argument it cannot encode, quoting it (``DataError: invalid input for query argument
        $N: <repr, 40 characters> (...)``): the projector logs it and tries again."""
        reasons = [r.last_rejection_reason for s in changed
                   if (r := model.rows[s]).last_rejection_reason]
        if reasons and not failed_projections:
            failed_projections.append(
                f"invalid input for query argument $11: {repr(reasons[0])[:40]} "
                "(expected str, got bytes)")
            raise asyncpg.DataError(failed_projections[-1])
        await real_save(conn, model, changed)

    failed_projections: list[str] = []
    with capturing() as captured, pytest.MonkeyPatch.context() as mp:
        mp.setattr(EventActivities, "_append", append_failing_once)
        mp.setattr(projector, "_save", save_failing_once)
        try:
            await run_case(case)

            async def notified() -> bool:
                """the log channel delivered every notice of the case"""
                waiting, total = await store.pool.fetchrow(
                    "SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FROM outbox"
                    " WHERE case_id = $1 AND channel = 'log'", case.id)
                notices.append(total)
                return bool(total) and not waiting

            notices: list[int] = []
            await eventually(notified, within=30)
        finally:
            # the server lives for the session: a case left running stalls its time skipping
            for wid in (case.id, case.rid):
                with contextlib.suppress(Exception):
                    await client.get_workflow_handle(wid).terminate(reason="test over")
    histories = await raw_histories(client, [case.id])
    recorded = json.dumps([e.payload for e in await store.read(case.id)], ensure_ascii=False)
    yield FullCase(case, captured, histories, recorded, failed + failed_projections,
                   notices[-1])


async def test_history_holds_no_submitted_value_in_clear(full_case: FullCase) -> None:
    """Every payload of every run of the case and its chain is sealed by the codec, and no
    metric value, report text, reason or person id appears in the raw events."""
    fc = full_case
    assert {k.split("/")[0] for k in fc.histories} == {fc.case.id, fc.case.rid}
    # the values were submitted and recorded: the event store is where they belong
    assert found(fc.recorded.encode(), RECORDED) != []
    for value in RECORDED:
        assert str(value) in fc.recorded, value
    assert len(fc.failures) == 2, "the injected failures did not happen"
    sealed = 0
    for run, events in fc.histories.items():
        assert len(events) > 20, run
        for e in events:
            own = temporals_own(e)
            for p in payloads_in(e):
                if p in own:
                    continue
                assert p.metadata.get("encoding") == ENCODING, (run, e.event_id, p.metadata)
                assert p.metadata.get("encryption-key-id") == KEY_ID.encode(), (run, p.metadata)
                sealed += 1
        raw = serialized(events)
        assert found(raw, SECRETS) == [], run
    assert sealed > 50


async def test_the_same_search_finds_the_values_in_the_decoded_history(
        full_case: FullCase) -> None:
    """The search can fail: the same histories opened with the codec (the workers' key, from
    DRUGFREE_PAYLOAD_KEY as conftest.py sets it) show every recorded value."""
    codec = codec_from_env()
    assert codec is not None
    opened = b"".join([serialized(await decoded(events, codec))
                       for events in full_case.histories.values()])
    assert [str(s) for s in RECORDED if not found(opened, [s])] == []
    # the refused input never reached a history, not even sealed
    assert found(opened, [REFUSED_COUNT, REFUSED_TEXT]) == []


async def test_logs_of_a_full_case_hold_no_value_or_reason(full_case: FullCase) -> None:
    """What the worker and the client logged and printed at DEBUG during the whole case,
    notifications, refusals, the failed activity and projection included, holds none of the
    values."""
    fc = full_case
    text = fc.captured.text
    assert len(text) > 10_000 and fc.case.id in text  # the capture worked
    assert '"event": "events.appended"' in text  # structlog: the append activity
    # structlog: the log channel, one line for each of the case's notices
    assert text.count('"event": "notification"') == fc.notices > 20
    assert "temporalio.activity WARNING Completing activity as failed" in text  # the SDK's
    assert found(text.encode(), SECRETS) == []
    # the failed activity's record and the projector's, whose exceptions quoted the values:
    # their text withheld
    assert all(found(failure.encode(), SECRETS) != [] for failure in fc.failures)
    assert "[RuntimeError; message withheld]" in text
    assert '"error": "DataError"' in text and '"event": "projection_failed"' in text

