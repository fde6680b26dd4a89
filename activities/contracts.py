"""The shapes workflows pass to activities (pure pydantic; safe in the workflow sandbox)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: str
    type: str
    schema_version: int
    payload: dict[str, Any]


class Notice(BaseModel):
    """A notification to the people holding ``to_role`` in the case's jurisdiction.

    ``params`` hold codes, dates and counts only: templates render the words, and no metric
    payload rides along (sensitive data stays in the event store).
    """

    model_config = ConfigDict(extra="forbid")
    template: str
    to_role: str
    case_id: str
    params: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


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
    workflow_id: str
    update: str
    payload: dict[str, Any]
    start: dict[str, Any] | None = None


class FanoutResult(BaseModel):
    results: dict[str, str]
