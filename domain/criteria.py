"""Recognition criteria for a drug-free commune (tiêu chí công nhận xã không ma túy), as data.

At recognition time (thời điểm xem xét, công nhận) a commune must meet *every* criterion of
its plan's criteria set. Two sets ship:

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

from domain.errors import DomainError
from domain.metrics import FIELD_KINDS, FIELD_LABELS, Metrics, format_number


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

    id: str = Field(min_length=1)
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


# --- shipped criteria sets -----------------------------------------------------------------


def _none(field: str) -> dict[str, object]:
    return {"kind": "none", "field": field}


def _all(part: str, whole: str, *, nonempty: bool = False) -> dict[str, object]:
    return {"kind": "all", "part": part, "whole": whole, "nonempty": nonempty}


# Addicts + users now vs. when the commune entered the programme (summed, as one headcount).
_WITHIN_BASELINE: dict[str, object] = {
    "kind": "within_baseline",
    "fields": ["addicts_total", "users_total"],
    "baseline": ["baseline_addicts", "baseline_users"],
    "label_vi": "tổng số người nghiện và người sử dụng trái phép chất ma túy",
    "label_en": "addicts plus illicit users",
}

_TV = "001_bb5719cd39510399.txt §III.3"
TRA_VINH_2025: dict[str, object] = {
    "id": "tra-vinh-2025",
    "title_vi": "Tiêu chí đánh giá, công nhận xã, phường, thị trấn không ma túy (Trà Vinh 2025)",
    "title_en": "Criteria for recognising a drug-free commune (Tra Vinh 2025)",
    "source": _TV,
    "criteria": [
        {
            # 001 §III.3 bullet 1. "tụ điểm, điểm" -> hotspots; "ổ nhóm, đường dây" -> rings.
            "id": 1,
            "title_vi": "Không có tụ điểm, điểm, ổ nhóm, đường dây về ma túy; không có vụ phạm "
            "tội về ma túy do người cư trú trên địa bàn gây ra",
            "title_en": "No drug hotspots, points, rings or lines; no drug crime committed by "
            "a resident",
            "source": f"{_TV}, bullet 1",
            "requirements": [
                _none("hotspots"),
                _none("drug_rings"),
                _none("drug_crimes_by_residents"),
            ],
        },
        {
            # 001 §III.3 bullet 2. Periodic testing of users has no metric (no users_tested).
            "id": 2,
            "title_vi": "100% người nghiện có hồ sơ quản lý và được áp dụng hình thức cai nghiện "
            "phù hợp; 100% người sử dụng trái phép, người sau cai được lập hồ sơ, theo dõi, "
            "xét nghiệm",
            "title_en": "100% of addicts recorded and in fitting treatment; 100% of illicit "
            "users and post-rehab persons recorded, monitored and tested",
            "source": f"{_TV}, bullet 2",
            "requirements": [
                _all("addicts_with_records", "addicts_total"),
                _all("addicts_in_treatment", "addicts_total"),
                _all("users_with_records", "users_total"),
                _all("post_rehab_with_records", "post_rehab_total"),
                _all("post_rehab_tested", "post_rehab_total"),
            ],
        },
        {
            # 001 §III.3 bullet 3.
            "id": 3,
            "title_vi": "100% đại diện hộ gia đình cam kết; 100% ấp, khóm có bảng niêm yết số "
            "điện thoại đường dây nóng",
            "title_en": "100% of household representatives committed; 100% of hamlets show "
            "the hotline board",
            "source": f"{_TV}, bullet 3",
            "requirements": [
                _all("households_committed", "households_total", nonempty=True),
                _all("hamlets_with_hotline_board", "hamlets_total", nonempty=True),
            ],
        },
        {
            # 001 §III.3 bullet 4: "Kiềm chế hoặc làm giảm" (contain or reduce).
            "id": 4,
            "title_vi": "Kiềm chế hoặc làm giảm số người nghiện, người sử dụng trái phép so với "
            "thời điểm đưa vào xây dựng",
            "title_en": "Addicts and illicit users held at or below their number at "
            "programme entry",
            "source": f"{_TV}, bullet 4",
            "requirements": [_WITHIN_BASELINE],
        },
        {
            # 001 §III.3 bullet 5: relapse detected in time, so it caused no crime.
            "id": 5,
            "title_vi": "Phát hiện kịp thời người tái nghiện, tái sử dụng; không để gây ra vụ "
            "phạm tội",
            "title_en": "Relapses detected in time: no crime caused by a relapsed user or "
            "post-rehab person",
            "source": f"{_TV}, bullet 5",
            "requirements": [_none("relapse_crimes")],
        },
        {
            # 001 §III.3 bullet 6.
            "id": 6,
            "title_vi": "Không để sót, lọt người sử dụng, người nghiện gây ra vụ việc rất "
            'nghiêm trọng, đặc biệt nghiêm trọng hoặc "ngáo đá"',
            "title_en": "No user or addict missed who caused a very serious or especially "
            "serious case or a psychosis incident",
            "source": f"{_TV}, bullet 6",
            "requirements": [_none("serious_incidents_by_users")],
        },
        {
            # 001 §III.3 bullet 7.
            "id": 7,
            "title_vi": "Toàn bộ người có căn cứ sử dụng trái phép đều được xét nghiệm",
            "title_en": "Everyone with grounds for suspected use was tested",
            "source": f"{_TV}, bullet 7",
            "requirements": [_all("suspects_tested", "suspects_total")],
        },
        {
            # 001 §III.3 bullet 8.
            "id": 8,
            "title_vi": "Xây dựng và duy trì hiệu quả ít nhất 01 mô hình phòng, chống ma túy",
            "title_en": "At least one effective drug-prevention model maintained",
            "source": f"{_TV}, bullet 8",
            "requirements": [{"kind": "at_least", "field": "prevention_models", "minimum": 1}],
        },
    ],
}

_TH = "003_6ef7dbea58ef7382.txt §II"
THANH_HOA_2024: dict[str, object] = {
    "id": "thanh-hoa-2024",
    "title_vi": "Tiêu chí đánh giá, công nhận xã, thị trấn không ma túy (Như Xuân, Thanh Hóa)",
    "title_en": "Criteria for recognising a drug-free commune (Nhu Xuan, Thanh Hoa)",
    "source": _TH,
    "criteria": [
        {
            # 003 §II bullet 1. "Âm tính ... không quá 30 ngày" is read as every addict.
            "id": 1,
            "title_vi": "100% người nghiện có hồ sơ quản lý, tham gia cai nghiện/điều trị; dưới "
            "10 người nghiện ngoài cộng đồng; âm tính trong 30 ngày trước khi đề nghị",
            "title_en": "100% of addicts recorded and in treatment; fewer than 10 addicts in "
            "the community; negative test within 30 days before the proposal",
            "source": f"{_TH}, bullet 1",
            "requirements": [
                _all("addicts_with_records", "addicts_total"),
                _all("addicts_in_treatment", "addicts_total"),
                {"kind": "fewer_than", "field": "addicts_in_community", "limit": 10},
                _all("addicts_negative_test_30d", "addicts_total"),
            ],
        },
        {
            # 003 §II bullet 2. Psychosis cases have no "with records" count: they must at
            # least be surveyed and reported.
            "id": 2,
            "title_vi": '100% người sử dụng trái phép, người loạn thần "ngáo đá" được phát '
            "hiện, lập hồ sơ, giám sát; âm tính trong 30 ngày trước khi đề nghị",
            "title_en": "100% of illicit users and psychosis cases detected, recorded and "
            "monitored; negative test within 30 days before the proposal",
            "source": f"{_TH}, bullet 2",
            "requirements": [
                _all("users_with_records", "users_total"),
                _all("users_negative_test_30d", "users_total"),
                {"kind": "reported", "field": "psychosis_cases"},
            ],
        },
        {
            # 003 §II bullet 3.
            "id": 3,
            "title_vi": "100% người có căn cứ nghi sử dụng trái phép được lập danh sách và xét "
            "nghiệm",
            "title_en": "100% of persons suspected of use listed and tested",
            "source": f"{_TH}, bullet 3",
            "requirements": [_all("suspects_tested", "suspects_total")],
        },
        {
            # 003 §II bullet 4: "Kiềm chế, làm giảm" (contain, reduce) vs. the count at
            # registration; read like 001's bullet 4: at or below the baseline.
            "id": 4,
            "title_vi": "Kiềm chế, làm giảm tổng số người nghiện và người sử dụng trái phép so "
            "với khi đăng ký xây dựng",
            "title_en": "Total addicts and illicit users contained or reduced against the count "
            "at registration",
            "source": f"{_TH}, bullet 4",
            "requirements": [_WITHIN_BASELINE],
        },
        {
            # 003 §II bullet 5. Reintegration support is for the appraisal council to judge.
            "id": 5,
            "title_vi": "100% người sau cai nghiện có hồ sơ quản lý, được giám sát và xét nghiệm",
            "title_en": "100% of post-rehab persons recorded, monitored and tested",
            "source": f"{_TH}, bullet 5",
            "requirements": [
                _all("post_rehab_with_records", "post_rehab_total"),
                _all("post_rehab_tested", "post_rehab_total"),
            ],
        },
        {
            # 003 §II bullet 6.
            "id": 6,
            "title_vi": "Không có điểm, tụ điểm, điểm có nguy cơ phức tạp, ổ nhóm, đường dây; "
            "không trồng cây có chứa chất ma túy, không sản xuất trái phép",
            "title_en": "No hotspots, risk points, rings or lines; no drug plants grown and no "
            "illicit production",
            "source": f"{_TH}, bullet 6",
            "requirements": [
                _none("hotspots"),
                _none("risk_points"),
                _none("drug_rings"),
                _none("drug_plants"),
                _none("drug_plant_area_m2"),
                _none("illicit_production_cases"),
            ],
        },
        {
            # 003 §II bullet 7.
            "id": 7,
            "title_vi": "Xử lý 100% người vi phạm; bắt giữ 100% người phạm tội cư trú trên địa "
            "bàn và 100% người bị truy nã về ma túy lẩn trốn trên địa bàn",
            "title_en": "100% of violators handled; 100% of resident offenders and of wanted "
            "drug fugitives hiding in the area arrested",
            "source": f"{_TH}, bullet 7",
            "requirements": [
                _all("violators_handled", "violators_detected"),
                _all("resident_offenders_arrested", "resident_offenders"),
                _all("wanted_arrested", "wanted_in_area"),
            ],
        },
        {
            # 003 §II bullet 8.
            "id": 8,
            "title_vi": "Không để sót, lọt người nghiện, người sử dụng, người loạn thần gây ra vụ "
            "việc rất nghiêm trọng, đặc biệt nghiêm trọng",
            "title_en": "No resident addict, user or psychosis case missed who caused a very "
            "serious or especially serious case",
            "source": f"{_TH}, bullet 8",
            "requirements": [_none("serious_incidents_by_users")],
        },
        {
            # 003 §II bullet 9.
            "id": 9,
            "title_vi": "100% đại diện hộ gia đình cam kết không tham gia tội phạm, tệ nạn ma túy",
            "title_en": "100% of household representatives committed",
            "source": f"{_TH}, bullet 9",
            "requirements": [_all("households_committed", "households_total", nonempty=True)],
        },
        {
            # 003 §II bullet 10.
            "id": 10,
            "title_vi": "Xây dựng và duy trì hiệu quả ít nhất 01 mô hình phòng, chống ma túy",
            "title_en": "At least one effective drug-prevention model maintained",
            "source": f"{_TH}, bullet 10",
            "requirements": [{"kind": "at_least", "field": "prevention_models", "minimum": 1}],
        },
    ],
}

CRITERIA_SETS: dict[str, CriteriaSet] = {
    cs.id: cs
    for cs in (
        CriteriaSet.model_validate(TRA_VINH_2025),
        CriteriaSet.model_validate(THANH_HOA_2024),
    )
}
DEFAULT_CRITERIA_SET = "tra-vinh-2025"


def get_criteria_set(criteria_set_id: str) -> CriteriaSet:
    """The shipped criteria set with this id; unknown is ``DomainError("criteria.unknown")``."""
    try:
        return CRITERIA_SETS[criteria_set_id]
    except KeyError:
        known = ", ".join(sorted(CRITERIA_SETS))
        raise DomainError(
            "criteria.unknown", f"unknown criteria set {criteria_set_id!r} (known: {known})"
        ) from None


def evaluate(metrics: Metrics, criteria_set_id: str = DEFAULT_CRITERIA_SET) -> CriteriaReport:
    """Evaluate every criterion of a shipped set against one commune's metrics."""
    return get_criteria_set(criteria_set_id).evaluate(metrics)
