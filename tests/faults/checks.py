"""After the year: what the event store, the outbox and the channels' far ends hold, against
what the driver's decisions imply. Every check counts; the table says what was counted."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from eventstore.store import EventStore
from tests.faults.driver import Command, Commune, Driver
from tests.faults.faults import Fault
from tests.faults.receivers import message_id_of
from tests.faults.stack import Stack

# what an accepted command must have left in its case's stream, exactly once
EVENT_OF = {
    "start": ("case.opened", {"opened_by": "person"}),
    "select": ("selection.approved", {"decided_by": "person"}),
    "not_select": ("selection.rejected", {"decided_by": "person"}),
    "submit": ("report.submitted", {"submitted_by": "person", "deadline_id": "deadline_id"}),
    "approve": ("level.signed", {"reviewer": "person", "level": "level", "round": "round"}),
    "reject": ("level.rejected", {"reviewer": "person", "level": "level", "round": "round"}),
    "resubmit": ("dossier.resubmitted", {"submitted_by": "person"}),
}
# the stream's events that record a person's command (the rest follow from them or the clock)
PERSON_FIELD = {"case.opened": "opened_by", "selection.approved": "decided_by",
                "selection.rejected": "decided_by", "report.submitted": "submitted_by",
                "level.signed": "reviewer", "level.rejected": "reviewer",
                "dossier.resubmitted": "submitted_by"}


@dataclass
class Findings:
    faults: int = 0
    cases: int = 0
    closed: int = 0
    events: int = 0
    commands: int = 0
    accepted: int = 0
    refused_probes: int = 0
    wrong_outcome: list[str] = field(default_factory=list)
    broken_streams: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # accepted, no event
    duplicated: list[str] = field(default_factory=list)  # accepted, more than one event
    unexplained: list[str] = field(default_factory=list)  # a person's event with no command
    refused_but_recorded: list[str] = field(default_factory=list)
    probes_accepted: list[str] = field(default_factory=list)
    notices: int = 0
    undelivered: list[str] = field(default_factory=list)
    notices_duplicated: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # a notice whose event is not stored
    resent: int = 0  # the same notice id sent again after a crash (the receiver sees a copy)
    retries: int = 0  # POSTs sent again with their key
    dropped: int = 0
    unavailable: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    unplanned_exits: dict[str, list[str]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    courses: Counter[str] = field(default_factory=Counter)  # "course -> outcome"
    refused: Counter[str] = field(default_factory=Counter)  # the people's own, by code

    def problems(self) -> list[str]:
        named = {"wrong outcome": self.wrong_outcome, "broken streams": self.broken_streams,
                 "lost": self.lost, "duplicated": self.duplicated,
                 "events without a command": self.unexplained,
                 "refused but recorded": self.refused_but_recorded,
                 "probes accepted": self.probes_accepted, "undelivered": self.undelivered,
                 "notifications duplicated": self.notices_duplicated,
                 "notices without their event": self.orphans,
                 "server errors (500)": self.server_errors}
        out = [f"{k}: {v[:5]}" for k, v in named.items() if v]
        if self.closed != self.cases:
            out.append(f"closed {self.closed} of {self.cases} cases")
        return out

    def table(self, seed: int) -> str:
        rows = [
            ("seed", seed), ("faults injected", self.faults), ("cases", self.cases),
            ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))),
            ("course -> outcome", ", ".join(f"{k}: {v}" for k, v in sorted(
                self.courses.items()))),
            ("the people's commands refused", dict(self.refused) or 0),
            ("events", self.events), ("commands (accepted)", f"{self.commands} "
                                                            f"({self.accepted})"),
            ("POSTs retried with their key", self.retries),
            ("connections dropped", self.dropped),
            ("5xx answers while parts were down", dict(self.unavailable) or 0),
            ("lost", len(self.lost)), ("duplicated", len(self.duplicated)),
            ("events without a command", len(self.unexplained)),
            ("refused (probes)", self.refused_probes),
            ("refused but recorded", len(self.refused_but_recorded)),
            ("streams broken", len(self.broken_streams)),
            ("notifications", self.notices), ("undelivered", len(self.undelivered)),
            ("notifications duplicated", len(self.notices_duplicated)),
            ("resent after a crash (same id)", self.resent),
            ("unplanned exits (restarted by the supervisor)",
             {k: len(v) for k, v in self.unplanned_exits.items() if v} or 0),
        ]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"| {k:<{width}} | {v} |" for k, v in rows)


def expected_outcome(c: Commune) -> str:
    """What the commune's accepted commands imply: not selected unless selected; recognised
    when both levels' two roles signed the last round (the shipped chain, checked below)."""
    done = [x for x in c.commands if x.accepted and not x.probe]
    ops = Counter(x.op for x in done)
    if ops["not_select"] or not ops["select"]:
        return "not_selected"
    last = max((x.detail["round"] for x in done if x.op == "approve"), default=0)
    signs = {(x.detail["level"], x.person) for x in done
             if x.op == "approve" and x.detail["round"] == last}
    return "recognised" if len(signs) == 4 else "not_recognised"


async def check(stack: Stack, driver: Driver, faults: list[Fault]) -> Findings:
    f = Findings(faults=len(faults), cases=len(driver.communes))
    assert [len(level.roles) for level in driver.plan.approval_chain] == [2, 2]
    conn = await asyncpg.connect(stack.owner_url)
    try:
        rows = await conn.fetch(
            "SELECT stream, version, event_id, type, "
            "convert_from(canonical, 'UTF8')::jsonb -> 'payload' AS payload "
            "FROM events ORDER BY stream, version")
        outbox = await conn.fetch("SELECT id, channel, case_id, template, to_role, "
                                  "delivered_at FROM outbox")
    finally:
        await conn.close()
    f.events = len(rows)
    streams: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        streams[r["stream"]].append(r)
    for stream, events in streams.items():
        if [e["version"] for e in events] != list(range(1, len(events) + 1)):
            f.broken_streams.append(f"{stream}: versions not 1..{len(events)}")
    async with await EventStore.connect(stack.app_url) as store:
        report = await store.verify()
        if not report.ok:
            f.broken_streams.append(f"verify: {report.broken}")

    for c in driver.communes:
        events = streams.get(c.case, [])
        payloads = [(e["type"], _payload(e["payload"])) for e in events]
        closed = [p for t, p in payloads if t == "case.closed"]
        if closed:
            f.closed += 1
            f.outcomes[closed[-1]["outcome"]] += 1
            f.courses[f"{c.course} -> {closed[-1]['outcome']}"] += 1
            if closed[-1]["outcome"] != expected_outcome(c):
                f.wrong_outcome.append(f"{c.case}: {closed[-1]['outcome']}, the decisions "
                                       f"imply {expected_outcome(c)} ({c.course})")
        for cmd in c.commands:
            f.commands += 1
            f.retries += cmd.attempts - 1
            f.dropped += cmd.dropped
            f.unavailable.update(cmd.unavailable)
            if cmd.probe:
                if cmd.accepted:
                    f.probes_accepted.append(f"{cmd.op} by {cmd.person} on {c.case}")
                else:
                    f.refused_probes += 1
                continue
            if not cmd.accepted:
                f.refused[f"{cmd.op} {cmd.code or cmd.status}"] += 1
                continue
            f.accepted += 1
            matches = [p for t, p in payloads if _is_event_of(cmd, t, p)]
            if not matches:
                f.lost.append(f"{cmd.op} {cmd.detail} by {cmd.person} on {c.case}")
            elif len(matches) > 1:
                f.duplicated.append(f"{cmd.op} {cmd.detail} on {c.case}: {len(matches)}")
        accepted = [x for x in c.commands if x.accepted and not x.probe]
        for t, p in payloads:
            who = p.get(PERSON_FIELD.get(t, ""), None)
            if who is not None and not any(_is_event_of(x, t, p) for x in accepted):
                f.unexplained.append(f"{c.case}: {t} by {who}")
    for r in rows:  # a refused command's person is named by no event at all
        if "probe-" in json.dumps(_payload(r["payload"])):
            f.refused_but_recorded.append(f"{r['stream']} v{r['version']} {r['type']}")

    f.notices = len(outbox)
    received = {"email": stack.mail.accepted, "webhook": stack.webhook.accepted}
    for row in outbox:
        if row["delivered_at"] is None:
            f.undelivered.append(f"{row['id']} ({row['template']} to {row['to_role']})")
        if row["channel"] in received:
            key = message_id_of(row["id"]) if row["channel"] == "email" else row["id"]
            got = received[row["channel"]][key]
            if got == 0 and row["delivered_at"] is not None:
                f.undelivered.append(f"{row['id']}: marked delivered, never received")
            f.resent += max(0, got - 1)
    # one row per (event batch, notice, channel) by construction; a duplicate would be the
    # same notice of the same event twice under different ids
    seen = Counter(tuple(r["id"].rsplit(":", 2)) for r in outbox)
    f.notices_duplicated = [str(k) for k, n in seen.items() if n > 1]
    ids = {r["event_id"] for r in rows}
    f.orphans = [r["id"] for r in outbox if r["id"].rsplit(":", 2)[0] not in ids]
    f.server_errors = list(driver.errors)
    f.unplanned_exits = {name: part.unplanned for name, part in
                         stack.supervisor.parts.items()}
    return f


def _payload(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


def _is_event_of(cmd: Command, type_: str, payload: dict[str, Any]) -> bool:
    want_type, fields = EVENT_OF[cmd.op]
    if type_ != want_type:
        return False
    for key, source in fields.items():
        want = cmd.person if source == "person" else cmd.detail.get(source)
        if want is not None and payload.get(key) != want:
            return False
    return True
