"""The shapes workflows pass to activities (pure pydantic; safe in the workflow sandbox)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from domain.notices import Notice

__all__ = ["AppendRequest", "AppendResult", "CaseCommand", "EventEnvelope", "FanoutResult",
           "Notice", "Outcomes", "OutcomesRequest"]


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str
    type: str
    schema_version: int
    payload: dict[str, Any]


class AppendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stream: str
    events: list[EventEnvelope]
    notices: list[Notice] = Field(default_factory=list)


class AppendResult(BaseModel):
    last_version: int
    positions: list[int]


class CaseCommand(BaseModel):
    """A request the campaign fans out to one commune's case (see activities/fanout.py)."""

    model_config = ConfigDict(extra="forbid")
    key: str  # what the result is reported under (the commune code)
    workflow_id: str
    update: str
    payload: dict[str, Any]
    start: dict[str, Any] | None = None
    # The campaign that decided it: the fan-out relays the command with a proof of its own
    # (the worker's relay key), which the case accepts only from its own campaign.
    via: str | None = None


class OutcomesRequest(BaseModel):
    """The cases whose recorded outcome a campaign asks the event store for."""

    model_config = ConfigDict(extra="forbid")
    streams: list[str] = Field(max_length=20_000)


class Outcomes(BaseModel):
    outcomes: dict[str, str]  # stream -> outcome, for the closed ones only


class TableRequest(BaseModel):
    """A reporting round's stream whose consolidated table is asked for (year on year)."""

    model_config = ConfigDict(extra="forbid")
    stream: str = Field(max_length=200)


class Table(BaseModel):
    table: dict[str, Any] | None = None  # its last round.consolidated table; None: none yet


class FanoutResult(BaseModel):
    results: dict[str, str]
