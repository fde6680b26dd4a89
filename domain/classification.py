"""Classification of a commune by drug-problem severity, with the rules held as data.

Source: ``001_bb5719cd39510399.txt``, PHỤ LỤC "Tiêu chí phân loại xã, phường, thị trấn có ma
túy" (appendix to KH 16/KH-UBND, Trà Vinh, 17 Feb 2025). Classes, most severe first:

* ``type_i``   – xã trọng điểm về ma túy loại I (Type I drug-focus commune)
* ``type_ii``  – trọng điểm loại II
* ``type_iii`` – trọng điểm loại III
* ``less_complex`` – có tệ nạn ma túy ít phức tạp (drug problems of low complexity)
* ``drug_free`` – không ma túy (drug-free)

A ``RuleSet`` lists the ranked classes top down; the first class whose rule holds wins. A
class rule is "at least k of these n criteria" (``AtLeast``; any-of is k=1), plus optional
*lifts*: further conditions that also place a commune in the class, such as "any criterion
of the lower type while on a key trafficking route" (tuyến trọng điểm), written as
``AtLeast(k=2, of=[CriteriaOf(type_ii), Flag(on_trafficking_route)])``. If no ranked class
matches, the rule set's ``drug_free`` condition must hold; otherwise the rule set has a gap
and classification refuses rather than silently calling the commune drug-free.

Rule sets are data files (``domain/rule_sets/<id>.yaml``: ``tra-vinh-2025`` from the
source above, ``decision-28-2025-example`` with illustrative thresholds), read by ``catalog``;
this module only validates and applies them.

Comparisons use exact fractions, so the offender rate (drug_offenders / population) is
compared with 0.1%, 0.3% and 0.5% without float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from domain.criteria import SET_ID_PATTERN
from domain.errors import DomainError, InputError
from domain.metrics import FIELD_KINDS, FIELD_LABELS, Lang, Metrics, format_number

Classification = Literal["type_i", "type_ii", "type_iii", "less_complex", "drug_free"]
RankedClass = Literal["type_i", "type_ii", "type_iii", "less_complex"]

# Higher = more severe; lets callers compare classes (e.g. "did it get worse?").
SEVERITY: dict[Classification, int] = {
    "drug_free": 0,
    "less_complex": 1,
    "type_iii": 2,
    "type_ii": 3,
    "type_i": 4,
}

CLASS_TITLES: dict[Classification, tuple[str, str]] = {
    "type_i": ("xã trọng điểm về ma túy loại I", "Type I drug-focus commune"),
    "type_ii": ("xã trọng điểm về ma túy loại II", "Type II drug-focus commune"),
    "type_iii": ("xã trọng điểm về ma túy loại III", "Type III drug-focus commune"),
    "less_complex": ("xã có tệ nạn ma túy ít phức tạp", "commune with less complex drug issues"),
    "drug_free": ("xã không ma túy", "drug-free commune"),
}

# Derived quantities: name -> (numerator field, denominator field).
DERIVED: dict[str, tuple[str, str]] = {
    # Tỷ lệ đối tượng phạm tội về ma túy so với dân số (001, PHỤ LỤC 1-3).
    "offender_rate": ("drug_offenders", "population"),
}

# Classification wording where it differs from the general glossary (001, PHỤ LỤC).
_NOUNS: dict[str, tuple[str, str]] = {
    "addicts_total": ("người nghiện có hồ sơ quản lý", "managed addicts"),
    "hotspots": ("tụ điểm phức tạp về ma túy", "drug hotspots"),
}


# --- exact numbers -------------------------------------------------------------------------


def _to_fraction(value: object) -> Fraction:
    """Read a bound exactly: 100, "1/200", "0.005" or "0.5%" (a float is read as written)."""
    if isinstance(value, bool):
        raise ValueError("a bound must be a number, not a boolean")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    if isinstance(value, Decimal | float):
        text = repr(value) if isinstance(value, float) else str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise ValueError(f"a bound must be a number or a numeric string, got {value!r}")
    scale = Fraction(1)
    if text.endswith("%"):
        text, scale = text[:-1].strip(), Fraction(1, 100)
    try:
        parsed = Fraction(Decimal(text)) if "/" not in text else Fraction(text)
    except (InvalidOperation, ValueError, ZeroDivisionError, OverflowError):
        raise ValueError(f"not a finite number: {value!r}") from None
    return parsed * scale


def _fraction_out(value: Fraction) -> int | str:
    return value.numerator if value.denominator == 1 else str(value)


Exact = Annotated[
    Fraction,
    PlainValidator(_to_fraction),
    PlainSerializer(_fraction_out),
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}]}),
]


def _decimal_text(value: Fraction, lang: Lang, places: int = 4) -> str:
    """Exact decimal when it has at most ``places`` digits, else a rounded "≈" value."""
    scaled = value * 10**places
    approx = scaled.denominator != 1
    digits = Decimal(round(scaled)).scaleb(-places).normalize()
    text = format(digits, "f")
    if lang == "vi":
        text = text.replace(".", ",")
    return ("≈" if approx else "") + text


# --- the rule language ---------------------------------------------------------------------


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Compare(_Rule):
    """A metric (or derived quantity) within bounds; ge/le inclusive, gt/lt exclusive."""

    kind: Literal["compare"] = "compare"
    quantity: str
    ge: Exact | None = None
    gt: Exact | None = None
    le: Exact | None = None
    lt: Exact | None = None

    @field_validator("quantity")
    @classmethod
    def _known_quantity(cls, name: str) -> str:
        if name in DERIVED:
            return name
        if FIELD_KINDS.get(name) in ("count", "population", "area"):
            return name
        raise ValueError(f"unknown numeric quantity {name!r}")

    @model_validator(mode="after")
    def _bounds(self) -> Compare:
        if self.ge is not None and self.gt is not None:
            raise ValueError("give at most one lower bound (ge or gt)")
        if self.le is not None and self.lt is not None:
            raise ValueError("give at most one upper bound (le or lt)")
        if all(b is None for b in (self.ge, self.gt, self.le, self.lt)):
            raise ValueError("a comparison needs at least one bound")
        return self

    def holds(self, value: Fraction) -> bool:
        return (
            (self.ge is None or value >= self.ge)
            and (self.gt is None or value > self.gt)
            and (self.le is None or value <= self.le)
            and (self.lt is None or value < self.lt)
        )

    def bounds_text(self, lang: Lang) -> str:
        pct = self.quantity == "offender_rate"

        def show(bound: Fraction) -> str:
            return _decimal_text(bound * 100, lang) + "%" if pct else _decimal_text(bound, lang)

        if self.ge is not None and self.ge == self.le:
            return f"= {show(self.ge)}"
        if self.le == 0 and self.ge is None and self.gt is None:
            return "= 0"  # counts are non-negative, so "<= 0" means none at all
        parts = [
            f"{op} {show(bound)}"
            for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if bound is not None
        ]
        return (" và " if lang == "vi" else " and ").join(parts)


class Flag(_Rule):
    """A yes/no metric has the given value (e.g. on_trafficking_route is true)."""

    kind: Literal["flag"] = "flag"
    field: str
    value: bool = True

    @field_validator("field")
    @classmethod
    def _known_flag(cls, name: str) -> str:
        if FIELD_KINDS.get(name) != "flag":
            raise ValueError(f"unknown yes/no field {name!r}")
        return name


class AtLeast(_Rule):
    """At least ``k`` of the ``n`` conditions in ``of`` hold (k=1: any of; k=n: all of)."""

    kind: Literal["at_least"] = "at_least"
    k: int = Field(strict=True, ge=1)
    of: list[Condition] = Field(min_length=1)

    @model_validator(mode="after")
    def _k_within_n(self) -> AtLeast:
        if self.k > len(self.of):
            raise ValueError(f"k={self.k} exceeds the {len(self.of)} conditions given")
        return self


class CriteriaOf(_Rule):
    """The ``criteria`` of another class hold (its lifts are not included, so no recursion)."""

    kind: Literal["criteria_of"] = "criteria_of"
    classification: RankedClass


Condition = Annotated[Compare | Flag | AtLeast | CriteriaOf, Field(discriminator="kind")]
AtLeast.model_rebuild()


class ClassRule(_Rule):
    """One ranked class: its own criteria (k of n) and the lifts that also place a commune in it."""

    classification: RankedClass
    criteria: AtLeast
    lifts: list[Condition] = Field(default_factory=list)


class RuleSet(_Rule):
    """A complete classification scheme, as data (loadable from YAML/JSON via model_validate)."""

    id: str = Field(pattern=SET_ID_PATTERN)
    title_vi: str
    title_en: str
    source: str
    description: str = ""
    classes: list[ClassRule] = Field(min_length=1)
    drug_free: Condition

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        ids = [c.classification for c in self.classes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"a class is listed twice: {ids}")
        refs: dict[str, set[str]] = {c.classification: set() for c in self.classes}
        for rule in self.classes:
            for cond in (rule.criteria, *rule.lifts):
                for target in _references(cond):
                    if target not in refs:
                        raise ValueError(f"criteria_of refers to unlisted class {target!r}")
            refs[rule.classification] = set(_references(rule.criteria))
        for start in refs:  # criteria_of inside criteria must not loop back
            seen, todo = set(), list(refs[start])
            while todo:
                nxt = todo.pop()
                if nxt == start:
                    raise ValueError(f"criteria of {start!r} refer back to themselves")
                if nxt not in seen:
                    seen.add(nxt)
                    todo.extend(refs[nxt])
        return self

    def rule_for(self, classification: str) -> ClassRule:
        for rule in self.classes:
            if rule.classification == classification:
                return rule
        raise DomainError("rules.invalid", f"rule set {self.id}: no class {classification!r}",
                          f"bộ quy tắc {self.id}: không có loại {classification!r}")

    def required_fields(self) -> tuple[str, ...]:
        """Every metric the rules read, in contract order: all must be reported."""
        needed: set[str] = set()
        for rule in self.classes:
            for cond in (rule.criteria, *rule.lifts):
                needed |= _fields(cond)
        needed |= _fields(self.drug_free)
        return tuple(name for name in FIELD_KINDS if name in needed)

    def classify(self, metrics: Metrics) -> ClassificationResult:
        missing = metrics.missing(self.required_fields())
        if missing:
            names = ", ".join(f"metrics.{name}" for name in missing)
            raise InputError(
                "metrics.missing",
                f"{names}: required by rule set {self.id} for classification but not reported",
                f"{names}: bộ quy tắc {self.id} cần số liệu này để phân loại nhưng chưa được "
                "báo cáo",
            )
        ctx = _Context(self, metrics)
        for rule in self.classes:
            outcome = ctx.criteria(rule)
            if not outcome.met:
                for lift in rule.lifts:
                    outcome = ctx.eval(lift)
                    if outcome.met:
                        break
            if outcome.met:
                return ClassificationResult(
                    rule_set=self.id,
                    classification=rule.classification,
                    reasons=list(outcome.vi),
                    reasons_en=list(outcome.en),
                )
        outcome = ctx.eval(self.drug_free)
        if not outcome.met:
            raise DomainError(
                "rules.incomplete",
                f"rule set {self.id}: the metrics match no class and are not drug-free",
                f"bộ quy tắc {self.id}: số liệu không khớp loại nào và cũng không đạt "
                "tiêu chí không ma túy",
            )
        return ClassificationResult(
            rule_set=self.id,
            classification="drug_free",
            reasons=list(outcome.vi),
            reasons_en=list(outcome.en),
        )


class ClassificationResult(BaseModel):
    """The class found and why (reasons in Vietnamese, and the same in English)."""

    model_config = ConfigDict(frozen=True)

    rule_set: str
    classification: Classification
    reasons: list[str]
    reasons_en: list[str]


def _references(cond: Condition) -> list[str]:
    if isinstance(cond, CriteriaOf):
        return [cond.classification]
    if isinstance(cond, AtLeast):
        return [ref for child in cond.of for ref in _references(child)]
    return []


def _fields(cond: Condition) -> set[str]:
    if isinstance(cond, Compare):
        return set(DERIVED.get(cond.quantity, (cond.quantity,)))
    if isinstance(cond, Flag):
        return {cond.field}
    if isinstance(cond, AtLeast):
        return set().union(*(_fields(child) for child in cond.of))
    return set()  # criteria_of: the referenced class's own fields are counted there


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    met: bool
    vi: tuple[str, ...] = ()
    en: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Context:
    rules: RuleSet
    metrics: Metrics

    def criteria(self, rule: ClassRule) -> _Outcome:
        return self.eval(rule.criteria)

    def eval(self, cond: Condition) -> _Outcome:
        if isinstance(cond, Compare):
            return self._compare(cond)
        if isinstance(cond, Flag):
            return self._flag(cond)
        if isinstance(cond, AtLeast):
            return self._at_least(cond)
        target = cond.classification
        inner = self.criteria(self.rules.rule_for(target))
        title_vi, title_en = CLASS_TITLES[target]
        return _Outcome(
            inner.met,
            (f"đạt tiêu chí của {title_vi}", *inner.vi),
            (f"meets a criterion of a {title_en}", *inner.en),
        )

    def _number(self, field: str) -> int | float:
        value = self.metrics.value(field)
        # required_fields() was checked before evaluation, so this is a programming error.
        assert value is not None and not isinstance(value, bool), field
        return value

    def _compare(self, cond: Compare) -> _Outcome:
        if cond.quantity in DERIVED:
            num_field, den_field = DERIVED[cond.quantity]
            num, den = self._number(num_field), self._number(den_field)
            value = Fraction(num) / Fraction(den)
            pct_vi = _decimal_text(value * 100, "vi")
            pct_en = _decimal_text(value * 100, "en")
            said_vi = f"tỷ lệ đối tượng phạm tội về ma túy trên dân số là {pct_vi}% ({num}/{den})"
            said_en = f"drug offenders per population: {pct_en}% ({num}/{den})"
        else:
            raw = self._number(cond.quantity)
            value = Fraction(raw)
            noun_vi, noun_en = _NOUNS.get(cond.quantity, FIELD_LABELS[cond.quantity])
            said_vi = f"có {format_number(raw, 'vi')} {noun_vi}" if raw else f"không có {noun_vi}"
            said_en = f"{noun_en}: {format_number(raw, 'en')}"
        return _Outcome(
            cond.holds(value),
            (f"{said_vi} ({cond.bounds_text('vi')})",),
            (f"{said_en} ({cond.bounds_text('en')})",),
        )

    def _flag(self, cond: Flag) -> _Outcome:
        actual = self.metrics.value(cond.field)
        label_vi, label_en = FIELD_LABELS[cond.field]
        if actual:
            return _Outcome(actual == cond.value, (label_vi,), (label_en,))
        return _Outcome(actual == cond.value, (f"không {label_vi}",), (f"not {label_en}",))

    def _at_least(self, cond: AtLeast) -> _Outcome:
        outcomes = [self.eval(child) for child in cond.of]
        met = [o for o in outcomes if o.met]
        vi = tuple(r for o in met for r in o.vi)
        en = tuple(r for o in met for r in o.en)
        if 1 < cond.k < len(cond.of):  # say the count only where "k of n" is the point
            n, k = len(cond.of), cond.k
            vi = (f"đạt {len(met)}/{n} tiêu chí (cần ít nhất {k})", *vi)
            en = (f"{len(met)} of {n} criteria met (at least {k} required)", *en)
        return _Outcome(len(met) >= cond.k, vi, en)


def classify(metrics: Metrics, rules: RuleSet) -> ClassificationResult:
    """Classify one commune's metrics with ``rules`` (a plan's pinned rule set)."""
    return rules.classify(metrics)
