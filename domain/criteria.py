"""Recognition criteria for a drug-free commune (tiêu chí công nhận xã không ma túy), as data.

At recognition time (thời điểm xem xét, công nhận) a commune must meet *every* criterion of
its plan's criteria set. The sets are data files (``domain/criteria_sets/<id>.yaml``, read by
``catalog``; this module only validates and evaluates them). Two ship:

* ``tra-vinh-2025``  – 8 criteria, ``001_bb5719cd39510399.txt`` §III.3 (Trà Vinh, 2025).
* ``thanh-hoa-2024`` – 10 criteria with numeric thresholds, ``003_6ef7dbea58ef7382.txt`` §II
  (Như Xuân district, Thanh Hóa, 2024-2025).

Each criterion is a list of *requirements* over the metrics contract (none of X; 100% of a
whole; fewer than N; at least N; held at or below the baseline; reported). A requirement whose
field was not reported makes its criterion **not met** with "thiếu dữ liệu: <field>" /
"missing data: <field>": absence of data is never read as compliance.

Parts of the sources that no metric can show (e.g. "detected in time", "supported to
reintegrate", users tested periodically in 001 §III.3 bullet 2) are left to the appraisal
council (hội đồng thẩm định); the criteria here check what the numbers can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from domain.metrics import FIELD_KINDS, FIELD_LABELS, Metrics, format_number

# An id is also its file name (<id>.yaml): lower-case letters, digits and dashes.
SET_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


def _known_number_field(name: str) -> str:
    if FIELD_KINDS.get(name) not in ("count", "area", "population"):
        raise ValueError(f"unknown numeric metrics field {name!r}")
    return name


# A numeric field of the metrics contract (checked when a criteria set is loaded).
MetricField = Annotated[str, AfterValidator(_known_number_field)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class _Check:
    """What a requirement found: met or not, and why (Vietnamese, English)."""

    met: bool
    vi: str
    en: str


def _num(metrics: Metrics, field: str) -> int | float:
    value = metrics.value(field)
    # Missing fields are reported before any requirement is checked.
    assert value is not None and not isinstance(value, bool), field
    return value


class NoneOf(_Data):
    """There are none: the count (or area) is 0."""

    kind: Literal["none"] = "none"
    field: MetricField

    def needs(self) -> tuple[str, ...]:
        return (self.field,)

    def check(self, metrics: Metrics) -> _Check:
        value = _num(metrics, self.field)
        noun_vi, noun_en = FIELD_LABELS[self.field]
        if value == 0:
            return _Check(True, f"không có {noun_vi}", f"no {noun_en}")
        return _Check(
            False,
            f"có {format_number(value, 'vi')} {noun_vi} (yêu cầu không có)",
            f"{noun_en}: {format_number(value, 'en')} (must be none)",
        )


class AllOf(_Data):
    """100% of a whole: ``part`` equals ``whole``.

    With ``nonempty`` the whole must also be positive: "100% of households" cannot be met by a
    commune that reported no households.
    """

    kind: Literal["all"] = "all"
    part: MetricField
    whole: MetricField
    nonempty: bool = False

    def needs(self) -> tuple[str, ...]:
        return (self.whole, self.part)

    def check(self, metrics: Metrics) -> _Check:
        part, whole = _num(metrics, self.part), _num(metrics, self.whole)
        part_vi, part_en = FIELD_LABELS[self.part]
        whole_vi, whole_en = FIELD_LABELS[self.whole]
        if whole == 0:
            if self.nonempty:
                return _Check(
                    False,
                    f"số {whole_vi} báo cáo là 0 (yêu cầu 100% trên tổng số thực tế)",
                    f"{whole_en}: 0 reported (100% of an actual total required)",
                )
            return _Check(True, f"không có {whole_vi}", f"no {whole_en}")
        return _Check(
            part == whole,
            f"{part}/{whole} {part_vi} (yêu cầu 100%)",
            f"{part_en}: {part}/{whole} (100% required)",
        )


class FewerThan(_Data):
    """A count strictly below a limit ("dưới N" = fewer than N)."""

    kind: Literal["fewer_than"] = "fewer_than"
    field: MetricField
    limit: int = Field(strict=True, ge=1)

    def needs(self) -> tuple[str, ...]:
        return (self.field,)

    def check(self, metrics: Metrics) -> _Check:
        value = _num(metrics, self.field)
        noun_vi, noun_en = FIELD_LABELS[self.field]
        return _Check(
            value < self.limit,
            f"có {format_number(value, 'vi')} {noun_vi} (yêu cầu dưới {self.limit})",
            f"{noun_en}: {format_number(value, 'en')} (fewer than {self.limit} required)",
        )


class AtLeastCount(_Data):
    """A count at or above a minimum ("ít nhất 01" = at least 1)."""

    kind: Literal["at_least"] = "at_least"
    field: MetricField
    minimum: int = Field(strict=True, ge=1)

    def needs(self) -> tuple[str, ...]:
        return (self.field,)

    def check(self, metrics: Metrics) -> _Check:
        value = _num(metrics, self.field)
        noun_vi, noun_en = FIELD_LABELS[self.field]
        return _Check(
            value >= self.minimum,
            f"có {format_number(value, 'vi')} {noun_vi} (yêu cầu ít nhất {self.minimum})",
            f"{noun_en}: {format_number(value, 'en')} (at least {self.minimum} required)",
        )


class WithinBaseline(_Data):
    """The sum of ``fields`` now is at or below the sum of ``baseline`` at programme entry.

    "Kiềm chế hoặc làm giảm" = contain or reduce: not rising counts, equal is enough.
    """

    kind: Literal["within_baseline"] = "within_baseline"
    fields: list[MetricField] = Field(min_length=1)
    baseline: list[MetricField] = Field(min_length=1)
    label_vi: str
    label_en: str

    def needs(self) -> tuple[str, ...]:
        return (*self.fields, *self.baseline)

    def check(self, metrics: Metrics) -> _Check:
        now = sum(_num(metrics, f) for f in self.fields)
        then = sum(_num(metrics, f) for f in self.baseline)
        now_vi, now_en = format_number(now, "vi"), format_number(now, "en")
        then_vi, then_en = format_number(then, "vi"), format_number(then, "en")
        return _Check(
            now <= then,
            f"{self.label_vi}: hiện nay {now_vi}, khi đưa vào xây dựng {then_vi} "
            "(yêu cầu không vượt quá)",
            f"{self.label_en}: now {now_en}, at programme entry {then_en} (must not exceed)",
        )


class Reported(_Data):
    """The count must be reported (any value): the survey was done."""

    kind: Literal["reported"] = "reported"
    field: MetricField

    def needs(self) -> tuple[str, ...]:
        return (self.field,)

    def check(self, metrics: Metrics) -> _Check:
        value = _num(metrics, self.field)
        noun_vi, noun_en = FIELD_LABELS[self.field]
        return _Check(
            True,
            f"đã rà soát, báo cáo {format_number(value, 'vi')} {noun_vi}",
            f"{noun_en}: {format_number(value, 'en')} identified and reported",
        )


Requirement = Annotated[
    NoneOf | AllOf | FewerThan | AtLeastCount | WithinBaseline | Reported,
    Field(discriminator="kind"),
]


class CriterionResult(BaseModel):
    """One criterion's verdict with its reason in Vietnamese and English."""

    model_config = ConfigDict(frozen=True)

    id: int
    met: bool
    reason_vi: str
    reason_en: str


class Criterion(_Data):
    """One recognition criterion, numbered as in its source."""

    id: int = Field(strict=True, ge=1)
    title_vi: str
    title_en: str
    source: str  # file name and section of the seed document
    requirements: list[Requirement] = Field(min_length=1)

    @property
    def needs(self) -> tuple[str, ...]:
        """The metrics fields this criterion reads (each must be reported)."""
        seen: dict[str, None] = {}
        for req in self.requirements:
            seen.update(dict.fromkeys(req.needs()))
        return tuple(seen)

    def evaluate(self, metrics: Metrics) -> CriterionResult:
        missing = metrics.missing(self.needs)
        if missing:
            names = ", ".join(missing)
            return CriterionResult(
                id=self.id,
                met=False,
                reason_vi=f"thiếu dữ liệu: {names}",
                reason_en=f"missing data: {names}",
            )
        checks = [req.check(metrics) for req in self.requirements]
        failed = [c for c in checks if not c.met]
        shown = failed or checks  # say what failed; if nothing did, say what was shown
        return CriterionResult(
            id=self.id,
            met=not failed,
            reason_vi="; ".join(dict.fromkeys(c.vi for c in shown)),
            reason_en="; ".join(dict.fromkeys(c.en for c in shown)),
        )


class CriteriaReport(BaseModel):
    """Every criterion's verdict; ``met`` only when all are met."""

    model_config = ConfigDict(frozen=True)

    criteria_set: str
    met: bool
    results: list[CriterionResult]


class CriteriaSet(_Data):
    """A plan's recognition criteria, as data (loadable from YAML/JSON via model_validate)."""

    id: str = Field(pattern=SET_ID_PATTERN)
    title_vi: str
    title_en: str
    source: str
    criteria: list[Criterion] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered_in_order(self) -> CriteriaSet:
        ids = [c.id for c in self.criteria]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"criteria must be numbered 1..{len(ids)} in order, got {ids}")
        return self

    def evaluate(self, metrics: Metrics) -> CriteriaReport:
        results = [c.evaluate(metrics) for c in self.criteria]
        return CriteriaReport(
            criteria_set=self.id, met=all(r.met for r in results), results=results
        )


def evaluate(metrics: Metrics, criteria: CriteriaSet) -> CriteriaReport:
    """Evaluate every criterion of ``criteria`` (a plan's pinned set) on one commune's metrics."""
    return criteria.evaluate(metrics)
