"""Seeded, realistic metrics for the demo: a commune at entry and after a year of conversion.

Counts are drawn around the bands of 001's classification appendix so that the province has
type I-III key areas and less complex communes; a year of conversion lowers them, and some
communes fall short of a criterion (a hotspot remains, households not all committed, ...).
"""

from __future__ import annotations

import random
from typing import Any


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
