"""When a plan's calendar dates happen: the clock a case runs its timeline on.

A plan speaks in local calendar dates (Asia/Ho_Chi_Minh). ``PlanClock`` turns them into
instants. Two rehearsal modes keep the same plan usable where its real dates cannot be:
- ``shift_years``: replay the plan's calendar N years later (the time-skipping test server
  starts at today's date and cannot go back to 2025);
- ``seconds_per_day``: compress the calendar so that one plan day lasts that many seconds
  from ``origin`` (benchmarks on a real server).
Events always carry the plan's own dates; only waiting uses the clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Calendar(Protocol):
    """What a clock needs of a plan (a conversion plan or a reporting plan): its first day
    and its time zone's midnights and dates."""

    @property
    def starts_on(self) -> date: ...

    def local_midnight(self, day: date) -> datetime: ...

    def local_date(self, instant: datetime) -> date: ...


Plan = Calendar  # the parameters below are named for the conversion plans that came first


class PlanClock(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The time-skipping server's clock only moves forward; rehearsals may land far ahead.
    shift_years: int = Field(default=0, ge=0, le=5000)
    seconds_per_day: float | None = Field(default=None, gt=0)
    origin: datetime | None = None

    @model_validator(mode="after")
    def _origin_with_compression(self) -> PlanClock:
        if (self.seconds_per_day is None) != (self.origin is None):
            raise ValueError("seconds_per_day and origin go together")
        return self

    def _shift(self, day: date) -> date:
        if not self.shift_years:
            return day
        try:
            return day.replace(year=day.year + self.shift_years)
        except ValueError:  # 29 Feb in a year that has none: the day before keeps the order
            return day.replace(year=day.year + self.shift_years, day=28)

    def day_start(self, plan: Plan, day: date) -> datetime:
        """The instant ``day`` begins (local midnight)."""
        if self.seconds_per_day is not None and self.origin is not None:
            days = (day - plan.starts_on).days
            return self.origin + timedelta(seconds=days * self.seconds_per_day)
        return plan.local_midnight(self._shift(day))

    def deadline(self, plan: Plan, due: date) -> datetime:
        """The instant a deadline on ``due`` passes: the start of the next day."""
        return self.day_start(plan, due + timedelta(days=1))

    def days(self, n: float) -> timedelta:
        """A span of ``n`` plan days on this clock."""
        if self.seconds_per_day is not None:
            return timedelta(seconds=n * self.seconds_per_day)
        return timedelta(days=n)

    def plan_date(self, plan: Plan, instant: datetime) -> date:
        """The plan calendar date at ``instant`` (inverse of ``day_start``)."""
        if self.seconds_per_day is not None and self.origin is not None:
            elapsed = (instant - self.origin).total_seconds() / self.seconds_per_day
            return plan.starts_on + timedelta(days=int(elapsed // 1))
        local = plan.local_date(instant)
        if not self.shift_years:
            return local
        try:
            return local.replace(year=local.year - self.shift_years)
        except ValueError:
            return local.replace(year=local.year - self.shift_years, day=28)


def rehearsal_shift(plan: Plan, today: date) -> int:
    """The fewest whole years to move ``plan`` so that it starts after ``today``."""
    years = 0
    while plan.starts_on.replace(year=plan.starts_on.year + years) <= today:
        years += 1
    return years
