"""Synthetic Trà Vinh cases across the 1 July 2025 reform (tra-vinh-2025-reform), built with
the domain's own functions (``amended_event``, ``chain_transfer``, ``code_change``), so the
``case.amended`` payloads are what the workflows record. No Temporal.

Legacy communes of Cầu Kè (845): 29323 / 29326 / 29329 -> 29329 Xã Phong Thạnh, and
29317 / 29320 -> 29317 Xã An Phú Tân (province 84 Trà Vinh -> 86 Vĩnh Long)."""

from __future__ import annotations

from datetime import date
from functools import cache

from catalog import get_amendment, get_plan
from domain.amendment import Amendment
from domain.amendment_effect import amended_event, chain_transfer, code_change
from domain.approval import ChainState
from domain.events import (
    CaseAmended,
    CaseClosed,
    CaseOpened,
    DossierSubmitted,
    Event,
    LevelApproved,
    MetricsRecorded,
    PhaseStarted,
    RecognitionGranted,
    SelectionApproved,
    SignoffRecorded,
)
from domain.plan import Plan
from domain.roles import Actor, CaseScope
from domain.units import UnitConversion
from service.amendments import amended

PLAN_ID = "tra-vinh-2025"
REFORM = "tra-vinh-2025-reform"
DISTRICT = "845"  # Huyện Cầu Kè
PHONG_THANH = ("29323", "29326", "29329")  # -> 29329 Xã Phong Thạnh
AN_PHU_TAN = ("29317", "29320")  # -> 29317 Xã An Phú Tân
METRICS = {"population": 9000, "addicts_total": 21, "hotspots": 1}
AMENDER = Actor(person_id="ubnd-86", role="province_ubnd", province_code="86")


@cache
def reform() -> tuple[Plan, Amendment, Plan, dict[str, UnitConversion]]:
    """The plan, the amendment, the amended plan and the unit conversions."""
    plan, amendment = get_plan(PLAN_ID), get_amendment(REFORM)
    before, after, units = amended(plan, amendment)
    return before, amendment, after, units


def case_id(commune: str) -> str:
    return f"conversion:{PLAN_ID}:{commune}"


def opened(commune: str) -> CaseOpened:
    return CaseOpened(plan_id=PLAN_ID, commune_code=commune, district_code=DISTRICT,
                      province_code="84", opened_by="huyen-845", opened_by_role="district_ubnd")


def selected(commune: str) -> list[Event]:
    return [opened(commune),
            MetricsRecorded(purpose="baseline", metrics=METRICS, classification="type_iii"),
            SelectionApproved(decided_by="ca-84", role="province_police"),
            PhaseStarted(phase=1, starts_on=date(2025, 3, 30), ends_on=date(2025, 4, 30))]


def at_district_review(commune: str) -> list[Event]:
    """Selected, dossier submitted, district appraisal passed: district_review pending."""
    return [*selected(commune),
            DossierSubmitted(round=1, submitted_by="xa", role="commune_ubnd",
                             first_level="district_appraisal"),
            SignoffRecorded(round=1, level="district_appraisal", reviewer="d1",
                            role="district_police"),
            LevelApproved(round=1, level="district_appraisal", next_level="district_review")]


def amendment_event(commune: str, pending_level: str | None = None) -> CaseAmended:
    """The reform applied to the case of ``commune``; ``pending_level``: the level pending
    then (its sign-off is transferred), None when no dossier is in the chain."""
    plan, amendment, after, units = reform()
    pending = None
    if pending_level is not None:
        ids = [lv.id for lv in plan.approval_chain]
        chain = ChainState(status="pending", round=1, level_index=ids.index(pending_level))
        _, pending = chain_transfer(plan, after, amendment, chain, [])
    codes = code_change(plan, after, CaseScope(province_code="84", district_code=DISTRICT,
                                               commune_code=commune), units)
    return amended_event(plan, after, amendment, AMENDER, [], codes,
                         "pending" if pending_level else "draft", pending)


def recognised_before_reform(commune: str) -> list[Event]:
    """A case that ended recognised before the reform (never amended)."""
    return [*selected(commune),
            DossierSubmitted(round=1, submitted_by="xa", role="commune_ubnd",
                             first_level="district_appraisal"),
            RecognitionGranted(round=1, decided_by="ubnd-84"), CaseClosed(outcome="recognised")]


def recognised_after_reform(commune: str) -> list[Event]:
    """Amended at district_review (transferred to province_appraisal), then recognised."""
    return [*at_district_review(commune), amendment_event(commune, "district_review"),
            LevelApproved(round=1, level="province_appraisal", next_level="province_decision"),
            LevelApproved(round=1, level="province_decision", next_level=None),
            RecognitionGranted(round=1, decided_by="ubnd-86"), CaseClosed(outcome="recognised")]
