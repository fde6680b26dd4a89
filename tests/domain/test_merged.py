"""Merged communes count by their plan's rule (domain/merged.py)."""

from __future__ import annotations

from catalog.units_2025 import units_2025
from domain.merged import new_communes, target_count

# Trà Vinh: 29323, 29326 and 29329 became Xã Phong Thạnh (29329); 29317 and 29320 Xã An Phú
# Tân (29317)
UNITS = {"29323": "29329", "29326": "29329", "29329": "29329", "29317": "29317",
         "29320": "29317"}


def test_all_constituents_needs_every_area_recognised() -> None:
    outcomes = {"29323": "recognised", "29326": "recognised", "29329": "not_recognised",
                "29317": "recognised", "29320": "recognised"}
    got = {n.code: (n.constituents, n.recognised)
           for n in new_communes(UNITS, outcomes, "all_constituents")}
    assert got == {"29329": (["29323", "29326", "29329"], False),
                   "29317": (["29317", "29320"], True)}
    # an area whose case never opened keeps its new commune from being drug-free
    assert not new_communes({"29317": "29317", "29320": "29317"}, {"29317": "recognised"},
                            "all_constituents")[0].recognised
    assert new_communes({"29317": "29317", "29320": "29317"}, {"29317": "recognised"},
                        "any_constituent")[0].recognised


def test_the_target_counts_new_communes_or_legacy_areas() -> None:
    outcomes = {"29317": "recognised", "29320": "recognised", "29323": "recognised"}
    new = target_count(0.2, UNITS, outcomes, "all_constituents", "new_communes")
    assert (new.total, new.need, new.recognised, new.met) == (2, 1, 1, True)
    old = target_count(0.2, UNITS, outcomes, "all_constituents", "legacy_areas")
    assert (old.total, old.need, old.recognised, old.met) == (5, 1, 3, True)


def test_tra_vinh_has_41_new_communes_so_the_20_percent_is_9() -> None:
    units = {k: v.commune_code for k, v in units_2025().convert_province("84").items()}
    assert len(units) == 104
    t = target_count(0.2, units, {}, "all_constituents", "new_communes")
    assert (t.total, t.need, t.recognised) == (41, 9, 0)
