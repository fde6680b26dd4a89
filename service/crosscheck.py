"""The workflow service's record of a case against the event store's (``drugfree audit
crosscheck``), and today's workflow code against the live histories (``audit replay-code``).

*Crosscheck.* A case writes its stream only through the ``append_events`` activity, with event
ids derived from the writer and a counter (``workflows.event_log``: ``<case>/case/<n>``,
``<case>/recognition/<n>``). So the histories of the case's workflow (every run of it, across
continue-as-new) and of its recognition chain say exactly which events the stream must hold:

- every completed ``append_events`` activity: its events are in the stream, same id, type and
  schema version (``store.missing``, ``store.differs``);
- every accepted update (a selection, submission, withdrawal, chain decision) completed
  successfully appended at least one batch while it ran (``update.no_events``), unless it was
  answered from the reply memory (its request id already answered: nothing is appended twice);
- every event in the stream was scheduled by exactly one append of those histories
  (``history.missing``, ``history.duplicate``).

A run whose history the workflow service no longer holds (retention) is reported as gone; the
events only it could explain are then *unverified*, not differences.

Payloads are decoded with the client's data converter, which decrypts them
(``runtime.codec``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, WorkflowRunner

from eventstore.errors import StreamNotFoundError
from eventstore.store import EventStore
from runtime.codec import PayloadKeyError
from workflows import names

APPEND = "append_events"


@dataclass(frozen=True)
class Difference:
    """One disagreement between the histories and the store."""

    kind: str  # store.missing | store.differs | history.missing | history.duplicate |
    # update.no_events
    detail: str
    event_id: str | None = None
    request_id: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "event_id": self.event_id, "request_id": self.request_id,
                "workflow_id": self.workflow_id, "run_id": self.run_id, "detail": self.detail}

    def __str__(self) -> str:
        where = ", ".join(f"{k} {v}" for k, v in (
            ("event", self.event_id), ("request", self.request_id),
            ("workflow", self.workflow_id), ("run", self.run_id)) if v)
        return f"{self.kind}: {self.detail} ({where})"


@dataclass(frozen=True)
class Run:
    workflow_id: str
    run_id: str
    found: bool  # False: the service no longer holds its history (retention)


@dataclass
class _Append:
    workflow_id: str
    run_id: str
    scheduled: int  # the history event id of ACTIVITY_TASK_SCHEDULED
    events: list[dict[str, Any]]
    request_id: str | None = None  # the update it ran for, when it ran for one
    completed: bool = False


@dataclass
class _Update:
    workflow_id: str
    run_id: str
    update_id: str
    name: str
    request_id: str | None
    appends: int = 0
    outcome: str | None = None  # "ok", the failure's type, or None while it runs
    from_memory: bool = False


@dataclass
class CrossCheck:
    case_id: str
    runs: list[Run] = field(default_factory=list)
    updates: int = 0
    appends: int = 0
    events: int = 0
    unverified: list[str] = field(default_factory=list)  # event ids only a gone run explains
    from_memory: list[str] = field(default_factory=list)  # request ids answered from memory
    differences: list[Difference] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.differences

    @property
    def gone(self) -> list[Run]:
        return [r for r in self.runs if not r.found]

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case_id, "agrees": self.agrees,
            "runs": [{"workflow_id": r.workflow_id, "run_id": r.run_id, "found": r.found}
                     for r in self.runs],
            "updates": self.updates, "appends": self.appends, "events": self.events,
            "unverified": self.unverified, "from_memory": self.from_memory,
            "differences": [d.as_dict() for d in self.differences],
        }


def _not_found(err: RPCError) -> bool:
    return err.status == RPCStatusCode.NOT_FOUND


async def _history(client: Client, workflow_id: str, run_id: str | None
                   ) -> tuple[str, WorkflowHistory] | None:
    """(run id, history) of one run (the latest when ``run_id`` is None); None when gone."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        if run_id is None:
            run_id = (await handle.describe()).run_id
            handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
    except RPCError as err:
        if _not_found(err):
            return None
        raise
    if not history.events:
        return None
    return run_id, history


async def case_runs(client: Client, workflow_id: str) -> list[tuple[Run, WorkflowHistory | None]]:
    """Every run of a case workflow, oldest first: the latest, then back through
    continue-as-new (each run's start names the run it continued)."""
    found = await _history(client, workflow_id, None)
    if found is None:
        return [(Run(workflow_id, "", False), None)]
    out: list[tuple[Run, WorkflowHistory | None]] = []
    run_id, history = found
    while True:
        out.append((Run(workflow_id, run_id, True), history))
        previous = history.events[0].workflow_execution_started_event_attributes \
            .continued_execution_run_id
        if not previous:
            break
        got = await _history(client, workflow_id, previous)
        if got is None:
            out.append((Run(workflow_id, previous, False), None))
            break
        run_id, history = got
    out.reverse()
    return out


async def chain_runs(client: Client, case_histories: Sequence[WorkflowHistory]
                     ) -> list[tuple[Run, WorkflowHistory | None]]:
    """The recognition chain's runs: the child runs the case started, then forward through
    continue-as-new (never another run under the chain's id that the case did not start)."""
    out: list[tuple[Run, WorkflowHistory | None]] = []
    for case_history in case_histories:
        for e in case_history.events:
            if e.event_type != EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
                continue
            wf = e.child_workflow_execution_started_event_attributes.workflow_execution
            run_id: str | None = wf.run_id
            while run_id:
                got = await _history(client, wf.workflow_id, run_id)
                if got is None:
                    out.append((Run(wf.workflow_id, run_id, False), None))
                    break
                _, history = got
                out.append((Run(wf.workflow_id, run_id, True), history))
                last = history.events[-1]
                run_id = None
                if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                    run_id = last.workflow_execution_continued_as_new_event_attributes \
                        .new_execution_run_id
    return out


async def _decoded(client: Client, payloads: Sequence[Any]) -> Any:
    try:
        values = await client.data_converter.decode(list(payloads))
    except PayloadKeyError:
        raise  # names the key id the payload needs
    except Exception as exc:  # noqa: BLE001 - a wrong or missing key fails in many ways
        raise ValueError("cannot decode the history's payloads (is DRUGFREE_PAYLOAD_KEY the "
                         f"workers' key?): {type(exc).__name__}") from None
    return values[0] if values else None


async def _read(client: Client, run: Run, history: WorkflowHistory,
                answered: set[tuple[str, str]]) -> tuple[list[_Update], list[_Append]]:
    """The updates and appends of one run, each append credited to the update that was
    running (accepted, not yet completed) when it was scheduled, if any."""
    updates: dict[str, _Update] = {}
    running: list[_Update] = []
    appends: dict[int, _Append] = {}
    for e in history.events:
        t = e.event_type
        if t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            a = e.workflow_execution_update_accepted_event_attributes
            arg = await _decoded(client, a.accepted_request.input.args.payloads)
            request_id = arg.get("request_id") if isinstance(arg, dict) else None
            u = _Update(run.workflow_id, run.run_id, a.accepted_request.meta.update_id,
                        a.accepted_request.input.name, request_id,
                        from_memory=(run.workflow_id, request_id) in answered)
            updates[u.update_id] = u
            running.append(u)
        elif t == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            c = e.workflow_execution_update_completed_event_attributes
            u2 = updates.get(c.meta.update_id)
            if u2 is None:  # accepted in a run whose history is gone: nothing to compare
                continue
            if c.outcome.HasField("failure"):
                f = c.outcome.failure
                u2.outcome = f.application_failure_info.type or "failure"
            else:
                u2.outcome = "ok"
                if u2.request_id:
                    answered.add((run.workflow_id, u2.request_id))
            if u2 in running:
                running.remove(u2)
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            s = e.activity_task_scheduled_event_attributes
            if s.activity_type.name != APPEND:
                continue
            req = await _decoded(client, s.input.payloads)
            events = list(req.get("events", [])) if isinstance(req, dict) else []
            ap = _Append(run.workflow_id, run.run_id, e.event_id, events)
            owner = next((u for u in running if u.appends == 0), running[0] if running else None)
            if owner is not None:
                owner.appends += 1
                ap.request_id = owner.request_id
            appends[e.event_id] = ap
        elif t == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            done = appends.get(e.activity_task_completed_event_attributes.scheduled_event_id)
            if done is not None:
                done.completed = True
    return list(updates.values()), list(appends.values())


async def crosscheck(client: Client, store: EventStore, case_id: str) -> CrossCheck:
    """Compare the workflow service's histories of case ``case_id`` (its workflow, every run,
    and its recognition chain) with the case's stream in the event store."""
    plan_id, commune = names.parse_case_id(case_id)
    case_id = names.case_id(plan_id, commune)
    report = CrossCheck(case_id)
    runs = await case_runs(client, case_id)
    runs += await chain_runs(client, [h for _, h in runs if h is not None])
    report.runs = [r for r, _ in runs]

    answered: set[tuple[str, str]] = set()  # (workflow id, request id) answered so far
    updates: list[_Update] = []
    appends: list[_Append] = []
    for run, history in runs:
        if history is None:
            continue
        run_updates, run_appends = await _read(client, run, history, answered)
        updates += run_updates
        appends += run_appends
    report.updates, report.appends = len(updates), len(appends)
    report.from_memory = [u.request_id for u in updates if u.from_memory and u.request_id]

    try:
        stored = await store.read(case_id)
    except StreamNotFoundError:
        stored = []
    report.events = len(stored)
    by_id = {e.event_id: e for e in stored}

    origins: dict[str, list[_Append]] = {}
    diffs = report.differences
    for ap in appends:
        for env in ap.events:
            event_id = str(env.get("event_id"))
            origins.setdefault(event_id, []).append(ap)
            if not ap.completed:
                continue  # scheduled, never completed: it may or may not have committed
            got = by_id.get(event_id)
            if got is None:
                diffs.append(Difference(
                    "store.missing", f"{env.get('type')} appended by a completed "
                    "append_events activity is not in the store", event_id, ap.request_id,
                    ap.workflow_id, ap.run_id))
            elif got.type != env.get("type") or (
                    got.schema_version == env.get("schema_version")
                    and got.payload != env.get("payload")):
                diffs.append(Difference(
                    "store.differs", f"the store holds {got.type} (version {got.version}) "
                    f"where the history appended {env.get('type')}", event_id, ap.request_id,
                    ap.workflow_id, ap.run_id))
    for event_id, aps in origins.items():
        if len(aps) > 1:
            diffs.append(Difference(
                "history.duplicate", f"appended by {len(aps)} activities (history events "
                f"{', '.join(str(a.scheduled) for a in aps)})", event_id,
                workflow_id=aps[0].workflow_id, run_id=aps[0].run_id))
    # the writers ("case", "recognition") some of whose runs the service no longer holds
    gone = {"case" if r.workflow_id == case_id else "recognition" for r in report.gone}
    for e in stored:
        if e.event_id in origins:
            continue
        if _writer(e.event_id) in gone:
            report.unverified.append(e.event_id)
            continue
        diffs.append(Difference(
            "history.missing", f"{e.type} (version {e.version}) has no append_events in the "
            "workflow histories", e.event_id))
    for u in updates:
        # (an update whose request a gone run answered may rightly be answered from memory)
        if u.outcome == "ok" and not u.from_memory and u.appends == 0 and not gone:
            diffs.append(Difference(
                "update.no_events", f"accepted {u.name} appended nothing", None, u.request_id,
                u.workflow_id, u.run_id))
    return report


def _writer(event_id: str) -> str | None:
    """The writer named in a workflow's event id (``<case>/<writer>/<n>``)."""
    parts = event_id.rsplit("/", 2)
    return parts[1] if len(parts) == 3 else None


# -- replay-code --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayFailure:
    workflow_id: str
    run_id: str
    workflow_type: str
    error: str

    def as_dict(self) -> dict[str, str]:
        return {"workflow_id": self.workflow_id, "run_id": self.run_id,
                "workflow_type": self.workflow_type, "error": self.error}


@dataclass
class ReplayReport:
    replayed: int = 0
    gone: list[str] = field(default_factory=list)  # listed, but the history is no longer there
    failures: list[ReplayFailure] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"replayed": self.replayed, "gone": self.gone,
                "failures": [f.as_dict() for f in self.failures]}


def visibility_query(task_queue: str, plan_id: str | None = None) -> str:
    """The list query of ``replay-code``: the task queue's workflows, or one plan's (its case,
    chain and campaign ids)."""
    query = f"TaskQueue = '{_quoted(task_queue)}'"
    if plan_id is not None:
        p = _quoted(plan_id)
        query += (f" AND (WorkflowId STARTS_WITH '{names.CASE}:{p}:' OR WorkflowId STARTS_WITH"
                  f" '{names.RECOGNITION}:{p}:' OR WorkflowId = '{names.CAMPAIGN}:{p}')")
    return query


def _quoted(value: str) -> str:
    if "'" in value or "\\" in value:
        raise ValueError(f"not a plain id: {value!r}")
    return value


async def listed(client: Client, task_queue: str, plan_id: str | None = None,
                 limit: int | None = None) -> list[tuple[str, str]]:
    """(workflow id, run id) of the live and recent workflows of the task queue (the
    workflow service's visibility: closed ones while their retention lasts)."""
    return [(w.id, w.run_id) async for w in client.list_workflows(
        visibility_query(task_queue, plan_id), limit=limit)]


async def replay_code(
    client: Client, executions: Sequence[tuple[str, str | None]], *,
    workflows: Sequence[type] | None = None, runner: WorkflowRunner | None = None,
    progress: Callable[[int, int], Awaitable[None] | None] | None = None, every: int = 50,
) -> ReplayReport:
    """Replay each execution's history against the workflow code (by default the worker's own
    workflows and data converter, in the strict sandbox: a clock read or random number added
    to workflow code fails here, before the deploy) and collect every non-deterministic one."""
    import catalog
    from worker import WORKFLOWS, workflow_runner

    catalog.warm()  # as a worker does: an old input's plan resolves without reading a file
    replayer = Replayer(workflows=list(workflows if workflows is not None else WORKFLOWS),
                        data_converter=client.data_converter,
                        workflow_runner=runner if runner is not None else workflow_runner("strict"))
    report = ReplayReport()
    for n, (workflow_id, run_id) in enumerate(executions, start=1):
        got = await _history(client, workflow_id, run_id)
        if got is None:
            report.gone.append(workflow_id)
        else:
            run, history = got
            result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
            report.replayed += 1
            if result.replay_failure is not None:
                first = history.events[0].workflow_execution_started_event_attributes
                report.failures.append(ReplayFailure(
                    workflow_id, run, first.workflow_type.name,
                    f"{type(result.replay_failure).__name__}: {result.replay_failure}"))
        if progress is not None and (n % every == 0 or n == len(executions)):
            maybe = progress(n, len(executions))
            if maybe is not None:
                await maybe
    return report


__all__ = ["CrossCheck", "Difference", "ReplayFailure", "ReplayReport", "Run", "crosscheck",
           "listed", "replay_code", "visibility_query"]
