"""The metrics contract: aggregate counts one commune reports (DOMAIN.md, "Metrics contract").

A commune (xã/phường/thị trấn) reports aggregates only, never names: counts of addicts
(người nghiện), illicit users (người sử dụng trái phép), post-rehab persons (người sau cai),
hotspots (tụ điểm), drug plants (cây có chứa chất ma túy), offenders, households and hamlets
(hộ gia đình, ấp/khóm/thôn).

Every field is optional: ``None`` means "not reported", which is different from 0. A criterion
that needs a missing field is not met (see ``domain.criteria``); classification refuses to run
without the fields its rule set needs (see ``domain.classification``).

Bad input is an ``InputError``, never clamped or coerced: unknown fields, negative numbers,
non-integer counts (3.0, "3", true), counts above 2^53-1, and a part larger than its whole.
Its message names the field and the rule, never the submitted value: errors travel into
workflow failures and logs, where case data must not appear (README, "No values in failures").
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator
from pydantic_core import ErrorDetails, PydanticCustomError

from domain.errors import InputError

# The largest integer every JSON reader keeps exactly (2^53-1); the event store refuses more,
# so the contract refuses it first, naming the field.
MAX_COUNT = 2**53 - 1

# Strict: a bool, a float such as 3.0 or a numeric string is an error, not a count.
Count = Annotated[int, Field(strict=True, ge=0, le=MAX_COUNT)]
Population = Annotated[int, Field(strict=True, gt=0, le=MAX_COUNT)]
# Area may be fractional (0.5 m²); strict still refuses bools and strings, and NaN/inf.
Area = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]

Lang = Literal["vi", "en"]


class Metrics(BaseModel):
    """One commune's reported aggregates; ``None`` = not reported."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Dân số / tuyến trọng điểm: population; on a key trafficking route.
    population: Population | None = None
    on_trafficking_route: StrictBool | None = None
    # Người nghiện (addicts). addicts_total counts managed addicts (có hồ sơ quản lý).
    addicts_total: Count | None = None
    addicts_with_records: Count | None = None
    addicts_in_treatment: Count | None = None
    addicts_in_community: Count | None = None
    addicts_negative_test_30d: Count | None = None
    # Người sử dụng trái phép (illicit users); "ngáo đá" = stimulant psychosis.
    users_total: Count | None = None
    users_with_records: Count | None = None
    users_negative_test_30d: Count | None = None
    psychosis_cases: Count | None = None
    # Người có căn cứ nghi sử dụng (persons with grounds for suspected use).
    suspects_total: Count | None = None
    suspects_tested: Count | None = None
    # Người sau cai nghiện (post-rehab persons).
    post_rehab_total: Count | None = None
    post_rehab_with_records: Count | None = None
    post_rehab_tested: Count | None = None
    # Counts when the commune entered the programme (thời điểm đưa vào xây dựng).
    baseline_addicts: Count | None = None
    baseline_users: Count | None = None
    # Places and supply: tụ điểm, ổ nhóm/đường dây, điểm có nguy cơ, cây/diện tích trồng.
    hotspots: Count | None = None
    drug_rings: Count | None = None
    risk_points: Count | None = None
    drug_plants: Count | None = None
    drug_plant_area_m2: Area | None = None
    illicit_production_cases: Count | None = None
    # Crime and enforcement.
    drug_offenders: Count | None = None
    drug_crimes_by_residents: Count | None = None
    violators_detected: Count | None = None
    violators_handled: Count | None = None
    resident_offenders: Count | None = None
    resident_offenders_arrested: Count | None = None
    wanted_in_area: Count | None = None
    wanted_arrested: Count | None = None
    serious_incidents_by_users: Count | None = None
    relapse_crimes: Count | None = None
    # Community: hộ gia đình cam kết, ấp/khóm có bảng đường dây nóng, mô hình phòng chống.
    households_total: Count | None = None
    households_committed: Count | None = None
    hamlets_total: Count | None = None
    hamlets_with_hotline_board: Count | None = None
    prevention_models: Count | None = None

    @model_validator(mode="after")
    def _parts_within_wholes(self) -> Metrics:
        problems = [
            f"metrics.{part}: must not exceed metrics.{whole}"
            for part, whole in PART_OF
            if (p := getattr(self, part)) is not None
            and (w := getattr(self, whole)) is not None
            and p > w
        ]
        if problems:
            raise PydanticCustomError("part_exceeds_whole", "; ".join(problems))
        return self

    def value(self, field: str) -> int | float | bool | None:
        """The reported value of ``field`` (None = not reported); unknown names are a bug."""
        if field not in FIELD_KINDS:
            raise InputError("metrics.unknown_field", f"metrics.{field}: unknown field",
                             f"metrics.{field}: trường không có trong mẫu số liệu")
        result: int | float | bool | None = getattr(self, field)
        return result

    def missing(self, fields: tuple[str, ...] | list[str]) -> list[str]:
        """Those of ``fields`` that were not reported, in the order given."""
        return [f for f in fields if self.value(f) is None]

    def summary(self) -> dict[str, int | float | bool | None]:
        """Headline aggregates, safe to store or log: counts only (no person is ever named).

        The shape is fixed (None = not reported) so stored summaries line up.
        """
        headline: dict[str, int | float | bool | None] = {
            name: self.value(name) for name in SUMMARY_FIELDS
        }
        headline["fields_reported"] = sum(
            1 for name in FIELD_KINDS if getattr(self, name) is not None
        )
        return headline


FieldKind = Literal["count", "population", "area", "flag"]

FIELD_KINDS: dict[str, FieldKind] = {
    name: (
        "population"
        if name == "population"
        else "flag"
        if name == "on_trafficking_route"
        else "area"
        if name == "drug_plant_area_m2"
        else "count"
    )
    for name in Metrics.model_fields
}

# (part, whole): a part larger than its whole is an input error naming both fields.
PART_OF: tuple[tuple[str, str], ...] = (
    ("addicts_with_records", "addicts_total"),
    ("addicts_in_treatment", "addicts_total"),
    ("addicts_in_community", "addicts_total"),
    ("addicts_negative_test_30d", "addicts_total"),
    ("users_with_records", "users_total"),
    ("users_negative_test_30d", "users_total"),
    ("suspects_tested", "suspects_total"),
    ("post_rehab_with_records", "post_rehab_total"),
    ("post_rehab_tested", "post_rehab_total"),
    ("violators_handled", "violators_detected"),
    ("resident_offenders_arrested", "resident_offenders"),
    ("wanted_arrested", "wanted_in_area"),
    ("households_committed", "households_total"),
    ("hamlets_with_hotline_board", "hamlets_total"),
)

SUMMARY_FIELDS: tuple[str, ...] = (
    "population",
    "on_trafficking_route",
    "addicts_total",
    "users_total",
    "post_rehab_total",
    "suspects_total",
    "hotspots",
    "drug_plants",
    "drug_plant_area_m2",
    "drug_offenders",
)

# Glossary: what each field counts, as a noun phrase (Vietnamese, English) for reason strings.
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "population": ("dân số", "population"),
    "on_trafficking_route": (
        "nằm trên tuyến trọng điểm về mua bán, vận chuyển trái phép chất ma túy",
        "on a key drug-trafficking route",
    ),
    "addicts_total": ("người nghiện ma túy", "drug addicts"),
    "addicts_with_records": ("người nghiện có hồ sơ quản lý", "addicts with a management record"),
    "addicts_in_treatment": (
        "người nghiện được áp dụng hình thức cai nghiện/điều trị phù hợp",
        "addicts in a fitting form of treatment",
    ),
    "addicts_in_community": ("người nghiện ngoài cộng đồng", "addicts living in the community"),
    "addicts_negative_test_30d": (
        "người nghiện xét nghiệm âm tính trong 30 ngày",
        "addicts tested negative within 30 days",
    ),
    "users_total": ("người sử dụng trái phép chất ma túy", "illicit drug users"),
    "users_with_records": (
        "người sử dụng trái phép có hồ sơ quản lý",
        "illicit users with a management record",
    ),
    "users_negative_test_30d": (
        "người sử dụng trái phép xét nghiệm âm tính trong 30 ngày",
        "illicit users tested negative within 30 days",
    ),
    "psychosis_cases": (
        'người có biểu hiện loạn thần "ngáo đá"',
        "persons with drug-induced psychosis",
    ),
    "suspects_total": (
        "người có căn cứ nghi sử dụng trái phép chất ma túy",
        "persons with grounds for suspected use",
    ),
    "suspects_tested": (
        "người nghi sử dụng đã được xét nghiệm",
        "suspected users who were tested",
    ),
    "post_rehab_total": ("người sau cai nghiện", "post-rehab persons"),
    "post_rehab_with_records": (
        "người sau cai nghiện có hồ sơ quản lý",
        "post-rehab persons with a management record",
    ),
    "post_rehab_tested": (
        "người sau cai nghiện được xét nghiệm",
        "post-rehab persons tested",
    ),
    "baseline_addicts": (
        "người nghiện tại thời điểm đưa vào xây dựng",
        "addicts at programme entry (baseline)",
    ),
    "baseline_users": (
        "người sử dụng trái phép tại thời điểm đưa vào xây dựng",
        "illicit users at programme entry (baseline)",
    ),
    "hotspots": ("tụ điểm, điểm phức tạp về ma túy", "drug hotspots"),
    "drug_rings": ("ổ nhóm, đường dây tội phạm về ma túy", "drug rings or trafficking lines"),
    "risk_points": ("điểm có nguy cơ phức tạp về ma túy", "points at risk of drug activity"),
    "drug_plants": ("cây có chứa chất ma túy", "drug plants"),
    "drug_plant_area_m2": (
        "m² diện tích trồng cây có chứa chất ma túy",
        "area planted with drug plants (m²)",
    ),
    "illicit_production_cases": (
        "vụ sản xuất trái phép chất ma túy",
        "illicit drug production cases",
    ),
    "drug_offenders": ("đối tượng phạm tội về ma túy", "drug offenders"),
    "drug_crimes_by_residents": (
        "vụ phạm tội về ma túy do người cư trú trên địa bàn gây ra",
        "drug crimes committed by residents",
    ),
    "violators_detected": (
        "người vi phạm pháp luật về ma túy bị phát hiện",
        "drug-law violators detected",
    ),
    "violators_handled": (
        "người vi phạm pháp luật về ma túy đã bị xử lý",
        "drug-law violators handled",
    ),
    "resident_offenders": (
        "người phạm tội về ma túy cư trú trên địa bàn",
        "resident drug offenders",
    ),
    "resident_offenders_arrested": (
        "người phạm tội về ma túy cư trú trên địa bàn đã bị bắt giữ",
        "resident drug offenders arrested",
    ),
    "wanted_in_area": (
        "người bị truy nã về ma túy lẩn trốn trên địa bàn",
        "wanted drug fugitives hiding in the area",
    ),
    "wanted_arrested": (
        "người bị truy nã về ma túy đã bị bắt giữ",
        "wanted drug fugitives arrested",
    ),
    "serious_incidents_by_users": (
        "vụ việc rất nghiêm trọng, đặc biệt nghiêm trọng hoặc ngáo đá do người nghiện, "
        "người sử dụng gây ra",
        "very serious, especially serious or psychosis incidents caused by users or addicts",
    ),
    "relapse_crimes": (
        "vụ phạm tội do người tái nghiện, tái sử dụng gây ra",
        "crimes caused by relapsed users or post-rehab persons",
    ),
    "households_total": ("hộ gia đình", "households"),
    "households_committed": (
        "đại diện hộ gia đình đã ký cam kết",
        "household representatives who signed the commitment",
    ),
    "hamlets_total": ("ấp, khóm, thôn", "hamlets"),
    "hamlets_with_hotline_board": (
        "ấp, khóm, thôn có bảng niêm yết số điện thoại đường dây nóng",
        "hamlets showing the hotline board",
    ),
    "prevention_models": (
        "mô hình phòng, chống ma túy duy trì hiệu quả",
        "drug-prevention models maintained",
    ),
}

_EXPECTED: dict[FieldKind, str] = {
    "count": "must be a non-negative integer",
    "population": "must be a positive integer",
    "area": "must be a non-negative finite number",
    "flag": "must be true or false",
}


def parse_metrics(data: object) -> Metrics:
    """Validate a JSON-like mapping against the contract; any problem is an ``InputError``.

    The message is one line naming every offending field and its rule, never the value, e.g.
    ``"metrics.addicts_total: must be a non-negative integer"`` or, for the wrong type,
    ``"metrics.addicts_total: must be a non-negative integer, got a string"``.
    """
    if isinstance(data, Metrics):
        return data
    try:
        return Metrics.model_validate(data)
    except ValidationError as exc:
        message = "; ".join(_describe(err) for err in exc.errors())
        message_vi = "; ".join(_describe_vi(err) for err in exc.errors())
        raise InputError("metrics.invalid", message, f"số liệu không hợp lệ: {message_vi}") \
            from None


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


def _describe(err: ErrorDetails) -> str:
    loc = err["loc"]
    if not loc:
        if err["type"] == "part_exceeds_whole":
            return err["msg"]
        return f"metrics: must be an object, got {_kind(err['input']) or 'a number'}"
    field = str(loc[0])
    if err["type"] == "extra_forbidden" or field not in FIELD_KINDS:
        # a key is input too: one that is not a plain name could carry text about a person
        shown = field if _PLAIN_NAME.fullmatch(field) else "<unnamed>"
        return f"metrics.{shown}: unknown field"
    if err["type"] == "less_than_equal":
        return f"metrics.{field}: must be at most {MAX_COUNT} (2^53-1)"
    rule = f"metrics.{field}: {_EXPECTED[FIELD_KINDS[field]]}"
    kind = _kind(err["input"], FIELD_KINDS[field])
    return f"{rule}, got {kind}" if kind else rule


_EXPECTED_VI: dict[FieldKind, str] = {
    "count": "phải là số nguyên không âm",
    "population": "phải là số nguyên dương",
    "area": "phải là số không âm",
    "flag": "phải là có hoặc không (true/false)",
}

_KIND_VI = {"null": "giá trị rỗng", "a boolean": "giá trị có/không", "a number": "một số",
            "a string": "một chuỗi ký tự", "an object": "một đối tượng",
            "a list": "một danh sách", "a value of another type": "một giá trị kiểu khác"}

_PART_WHOLE = re.compile(r"metrics\.(\w+): must not exceed metrics\.(\w+)")


def _label_vi(field: str) -> str:
    label = FIELD_LABELS.get(field)
    return f"{label[0]} (metrics.{field})" if label else f"metrics.{field}"


def _describe_vi(err: ErrorDetails) -> str:
    """``_describe`` in Vietnamese: the field's name on the form, and its rule; no value."""
    loc = err["loc"]
    if not loc:
        if err["type"] == "part_exceeds_whole":
            return "; ".join(f"số {_label_vi(part)} không được lớn hơn số {_label_vi(whole)}"
                             for part, whole in _PART_WHOLE.findall(err["msg"]))
        got = _KIND_VI.get(_kind(err["input"]) or "a number", "một giá trị kiểu khác")
        return f"số liệu phải là một đối tượng (object), nhận được {got}"
    field = str(loc[0])
    if err["type"] == "extra_forbidden" or field not in FIELD_KINDS:
        shown = field if _PLAIN_NAME.fullmatch(field) else "<unnamed>"
        return f"metrics.{shown}: trường không có trong mẫu số liệu"
    if err["type"] == "less_than_equal":
        return f"{_label_vi(field)} không được lớn hơn {MAX_COUNT} (2^53-1)"
    rule = f"{_label_vi(field)} {_EXPECTED_VI[FIELD_KINDS[field]]}"
    kind = _kind(err["input"], FIELD_KINDS[field])
    return f"{rule}, nhận được {_KIND_VI.get(kind, kind)}" if kind else rule


def _kind(value: Any, expected: FieldKind | None = None) -> str:
    """What kind of JSON value was sent (``a string``, ``a boolean``), never the value itself;
    "" for a number of the right kind that broke a bound (the rule says enough)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int) and expected != "flag":
        return ""
    if isinstance(value, float) and expected == "area":
        return ""
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return "a value of another type"


def format_number(value: int | float, lang: Lang = "vi") -> str:
    """A count or area for a reason string; Vietnamese uses a decimal comma (0,5)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value)
    return text.replace(".", ",") if lang == "vi" else text
