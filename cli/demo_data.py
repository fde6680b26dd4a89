"""The demo's scenario, drawn from its seed: which communes, their metrics, who is late.

Counts are drawn around the bands of 001's classification appendix so that the province has
type I-III key areas and less complex communes; a year of conversion lowers them, and some
communes fall short of a criterion (a hotspot remains, households not all committed, ...).
Everything random is drawn here, up front and in a fixed order, so one seed gives one year
whatever order the workflows answer in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from domain.admin_units import Commune, registry
from domain.plan import Plan

SELECTED_SHARE = 0.35  # the province selects about a third of its communes to convert
LATE_SHARE = 0.15  # selected communes that send their first phase report a week late
FAIL_SHARE = 0.2  # dossiers that miss a criterion (not recognised)
RETURN_SHARE = 0.2  # dossiers the first level sends back once (then resubmitted)


def row_key(plan: Plan, commune: Commune) -> str:
    """The one key the demo counts a commune under: its district before the 2025 reform, its
    province after it (the table's rows and every count use this, nothing else)."""
    return commune.district_code or plan.province_code


def territory(plan: Plan, limit: int | None = None) -> list[Commune]:
    """The plan's communes (a district's or a province's), in code order. With ``limit``, that
    many taken in turn from each district, so a small demo still shows several districts."""
    reg = registry(plan.structure)
    units = (reg.communes_of_district(plan.district_code) if plan.district_code
             else reg.communes_of_province(plan.province_code))
    if limit is None or limit >= len(units):
        return units
    groups: dict[str, list[Commune]] = {}
    for u in units:
        groups.setdefault(row_key(plan, u), []).append(u)
    queues = [iter(g) for _, g in sorted(groups.items())]
    picked: list[Commune] = []
    while len(picked) < limit:
        for q in queues:
            taken = next(q, None)
            if taken is not None and len(picked) < limit:
                picked.append(taken)
    return sorted(picked, key=lambda c: c.code)


def _some(n: int, share: float, at_least_from: int) -> int:
    """How many of ``n`` get a share: at least one once there are ``at_least_from``."""
    k = round(n * share)
    return min(n, max(k, 1 if n >= at_least_from else 0))


@dataclass(frozen=True)
class Scenario:
    """A province's year as the seed decides it (codes are commune codes)."""

    plan: Plan
    communes: list[Commune]
    baselines: dict[str, dict[str, Any]]
    chosen: list[Commune]  # selected for conversion, in code order
    late: frozenset[str]  # send the first phase report a week after its deadline
    failing: frozenset[str]  # their dossier misses a criterion
    returned: frozenset[str]  # their dossier is sent back once by the first level
    dossiers: dict[str, dict[str, Any]]  # the metrics each chosen commune reports

    @classmethod
    def draw(cls, plan: Plan, communes: list[Commune], seed: int) -> Scenario:
        rng = random.Random(seed)
        baselines = {u.code: baseline(rng) for u in communes}
        # The province selects about a third, preferring communes with the fewest addicts.
        ranked = sorted(communes, key=lambda u: (baselines[u.code]["addicts_total"], u.code))
        chosen = sorted(ranked[: max(1, round(len(communes) * SELECTED_SHARE))],
                        key=lambda u: u.code)
        codes = [u.code for u in chosen]
        late = rng.sample(codes, _some(len(codes), LATE_SHARE, 2))
        failing = rng.sample(codes, _some(len(codes), FAIL_SHARE, 3))
        passing = [c for c in codes if c not in failing]
        returned = rng.sample(passing, _some(len(passing), RETURN_SHARE, 2))
        dossiers = {c: after_conversion(rng, baselines[c], c not in failing) for c in codes}
        return cls(plan=plan, communes=communes, baselines=baselines, chosen=chosen,
                   late=frozenset(late), failing=frozenset(failing),
                   returned=frozenset(returned), dossiers=dossiers)


def baseline(rng: random.Random) -> dict[str, Any]:
    population = rng.randint(4_000, 25_000)
    addicts = rng.choice([rng.randint(0, 19), rng.randint(20, 59), rng.randint(60, 120)])
    users = rng.randint(0, 30)
    post_rehab = rng.randint(0, 25)
    suspects = rng.randint(0, 15)
    households = population // 4
    hamlets = rng.randint(4, 14)
    return {
        "population": population, "on_trafficking_route": rng.random() < 0.15,
        "addicts_total": addicts, "addicts_with_records": addicts,
        "addicts_in_treatment": rng.randint(addicts * 6 // 10, addicts),
        "addicts_in_community": addicts, "addicts_negative_test_30d": addicts // 3,
        "users_total": users, "users_with_records": users, "users_negative_test_30d": users // 2,
        "psychosis_cases": rng.randint(0, 2), "suspects_total": suspects,
        "suspects_tested": rng.randint(0, suspects),
        "post_rehab_total": post_rehab, "post_rehab_with_records": post_rehab,
        "post_rehab_tested": rng.randint(0, post_rehab),
        "baseline_addicts": addicts, "baseline_users": users,
        "hotspots": rng.choice([0, 0, 1, 2, 3]), "drug_rings": rng.choice([0, 0, 1]),
        "risk_points": rng.randint(0, 3), "drug_plants": 0, "drug_plant_area_m2": 0,
        "illicit_production_cases": 0, "drug_offenders": rng.randint(0, population // 400),
        "drug_crimes_by_residents": rng.randint(0, 3),
        "violators_detected": 4, "violators_handled": 4, "resident_offenders": 2,
        "resident_offenders_arrested": 2, "wanted_in_area": 1, "wanted_arrested": 1,
        "serious_incidents_by_users": 0, "relapse_crimes": rng.choice([0, 0, 1]),
        "households_total": households, "households_committed": households * 7 // 10,
        "hamlets_total": hamlets, "hamlets_with_hotline_board": hamlets // 2,
        "prevention_models": rng.choice([0, 1]),
    }


def after_conversion(rng: random.Random, base: dict[str, Any], succeeds: bool) -> dict[str, Any]:
    """The metrics a commune reports in its dossier. ``succeeds``: every criterion is met."""
    addicts = min(base["addicts_total"], rng.randint(0, 9))
    users = min(base["users_total"], rng.randint(0, 3))
    m = {
        **base,
        "addicts_total": addicts, "addicts_with_records": addicts,
        "addicts_in_treatment": addicts, "addicts_in_community": addicts,
        "addicts_negative_test_30d": addicts, "users_total": users, "users_with_records": users,
        "users_negative_test_30d": users, "psychosis_cases": 0,
        "suspects_tested": base["suspects_total"],
        "post_rehab_with_records": base["post_rehab_total"],
        "post_rehab_tested": base["post_rehab_total"],
        "hotspots": 0, "drug_rings": 0, "risk_points": 0, "drug_offenders": 0,
        "drug_crimes_by_residents": 0, "violators_handled": base["violators_detected"],
        "resident_offenders_arrested": base["resident_offenders"],
        "wanted_arrested": base["wanted_in_area"], "serious_incidents_by_users": 0,
        "relapse_crimes": 0, "households_committed": base["households_total"],
        "hamlets_with_hotline_board": base["hamlets_total"], "prevention_models": 1,
    }
    if not succeeds:
        flaw = rng.choice(["hotspots", "households_committed", "prevention_models"])
        if flaw == "hotspots":
            m["hotspots"] = 1
        elif flaw == "households_committed":
            m["households_committed"] = base["households_total"] - rng.randint(1, 20)
        else:
            m["prevention_models"] = 0
    return m
