"""Legacy (63 provinces, 3 levels) -> 2025 (34 provinces, 2 levels) units, from the official
conversion tables of the ``vietnamadminunits`` package (PyPI, MIT).

Here, not in ``domain/``: the package reads its SQLite database and JSON tables from disk
and imports geopy and shapely, none of which belongs in Temporal's workflow sandbox. What
this module returns is plain data (``domain.units.UnitConversion``) that the pure amendment
code reads.

The package converts *addresses* (``convert_address("ward, district, province")``); a case
knows *codes*. So the conversion goes through the package's own tables, by code, the way
``convert_address_2025`` does for an address without a street:

1. the legacy commune's row in the package's ``admin_units_legacy`` table (by GSO code; when
   the package lacks the code, by the registry's province, district and commune name) gives
   its province, district and commune keys;
2. ``DICT_PROVINCE`` gives the new province; ``DICT_PROVINCE_WARD_NO_DIVIDED`` the new
   commune of a legacy commune that went whole into one; ``DICT_PROVINCE_WARD_DIVIDED`` every
   new commune of a legacy commune that was split, one marked ``isDefaultNewWard``: the
   default is taken and every candidate reported (the package picks among them by
   geocoding a street address, which a case does not have);
3. the new commune's row in the package's ``admin_units`` table gives its name and code.

Codes are the project's registry's (``domain.admin_units``, GSO, as ``../shared/data``). For
114 of 3,321 new communes the package carries another code than the registry (in some of them
the same code names another commune), so a new commune is taken by its code only when the
registry's commune of that code has the same name, otherwise by its name within its province
(tone marks placed either way, "Hoà" = "Hòa"), and the package's code kept in
``package_code``. A commune found neither way is refused (``units.unmapped``), never guessed.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import metadata
from typing import Any

from domain.admin_units import Commune, registry
from domain.errors import InputError
from domain.units import NewUnit, UnitConversion

PACKAGE = "vietnamadminunits"

# Vietnamese tone marks (dấu thanh): grave, acute, tilde, hook above, dot below.
_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def name_key(name: str) -> str:
    """A commune name compared loosely but safely: NFC, case, spaces, apostrophes, dashes
    and where a syllable carries its tone mark ("Hoà" / "Hòa", "Thuỷ" / "Thủy") do not
    matter; letters and tones do."""
    words = []
    plain = name.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    for word in plain.casefold().split():
        decomposed = unicodedata.normalize("NFD", word)
        tones = "".join(sorted(ch for ch in decomposed if ch in _TONES))
        base = "".join(ch for ch in decomposed if ch not in _TONES)
        words.append(unicodedata.normalize("NFC", base) + tones)
    return " ".join(words)


def package_version() -> str:
    return metadata.version(PACKAGE)


class Units2025:
    """The conversion tables, loaded once (about 0.5 s), then answered from memory."""

    def __init__(self) -> None:
        from vietnamadminunits.converter import converter_2025 as conv
        from vietnamadminunits.database import get_data

        self.source = f"{PACKAGE} {package_version()}"
        legacy_rows: list[dict[str, Any]] = get_data(
            ["provinceCode", "districtCode", "wardCode", "ward", "provinceKey", "districtKey",
             "wardKey"], "admin_units_legacy")
        # island districts without communes have rows with no ward: nothing to convert
        legacy_rows = [r for r in legacy_rows if r["ward"] and r["wardCode"]]
        new_rows: list[dict[str, Any]] = get_data(
            ["provinceCode", "province", "wardCode", "ward", "provinceKey", "wardKey"],
            "admin_units")
        self._legacy_by_code = {r["wardCode"]: r for r in legacy_rows}
        self._legacy_by_name = {
            (r["provinceCode"], r["districtCode"], name_key(r["ward"])): r for r in legacy_rows}
        self._new_by_key = {(r["provinceKey"], r["wardKey"]): r for r in new_rows}
        self._new_province: dict[str, str] = {
            old: new for new, olds in conv.DICT_PROVINCE.items() for old in olds}
        self._whole: dict[str, str] = {
            old: new_ward
            for wards in conv.DICT_PROVINCE_WARD_NO_DIVIDED.values()
            for new_ward, olds in wards.items() for old in olds}
        self._divided: dict[str, list[dict[str, Any]]] = {
            old: list(news)
            for wards in conv.DICT_PROVINCE_WARD_DIVIDED.values() for old, news in wards.items()}
        self._current = registry("current")
        self._current_by_name: dict[tuple[str, str], list[Commune]] = {}
        for c in self._current.communes.values():
            self._current_by_name.setdefault((c.province_code, name_key(c.name)), []).append(c)

    # -- the conversion -------------------------------------------------------------------
    def convert(self, legacy_code: str) -> UnitConversion:
        """The 2025 commune and province of a legacy commune (a registry code, 5 digits)."""
        legacy = registry("legacy").commune(legacy_code)  # units.bad_code / units.unknown
        assert legacy.district_code is not None
        district = registry("legacy").district(legacy.district_code)
        row = self._legacy_by_code.get(legacy.code) or self._legacy_by_name.get(
            (legacy.province_code, legacy.district_code, name_key(legacy.name)))
        if row is None:
            raise _unmapped(legacy, f"not in {self.source}'s legacy table")
        old_key = f"{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        new_province_key = self._new_province.get(row["provinceKey"])
        if new_province_key is None:
            raise _unmapped(legacy, f"no 2025 province for {row['provinceKey']}")
        candidates: list[NewUnit] = []
        whole = self._whole.get(old_key)
        if whole is not None:
            chosen = self._new_unit(legacy, new_province_key, whole)
        else:
            divided = self._divided.get(old_key, [])
            defaults = [w for w in divided if w["isDefaultNewWard"]]
            if len(defaults) != 1:
                raise _unmapped(legacy, f"{len(divided)} new communes, {len(defaults)} default")
            for w in divided:
                unit = self._new_unit(legacy, new_province_key, w["newWardKey"])
                candidates.append(NewUnit(commune_code=unit[0].code, commune_name=unit[0].name,
                                          default=bool(w["isDefaultNewWard"])))
            chosen = self._new_unit(legacy, new_province_key, defaults[0]["newWardKey"])
        commune, package_code = chosen
        return UnitConversion(
            legacy_commune_code=legacy.code, legacy_commune_name=legacy.name,
            legacy_district_code=district.code, legacy_district_name=district.name,
            legacy_province_code=legacy.province_code,
            commune_code=commune.code, commune_name=commune.name,
            province_code=commune.province_code,
            province_name=self._current.province(commune.province_code).name,
            candidates=candidates,
            package_code=package_code if package_code != commune.code else None,
            source=self.source,
        )

    def _new_unit(self, legacy: Commune, province_key: str,
                  ward_key: str) -> tuple[Commune, str]:
        """The registry's commune for the package's (province key, ward key), and the
        package's code for it."""
        row = self._new_by_key.get((province_key, ward_key))
        if row is None:
            raise _unmapped(legacy, f"{province_key}/{ward_key} is not in the 2025 table")
        code, province = str(row["wardCode"]), str(row["provinceCode"])
        same = self._current.communes.get(code)
        if same is not None and same.province_code == province and (
                name_key(same.name) == name_key(row["ward"])):
            return same, code
        by_name = self._current_by_name.get((province, name_key(row["ward"])), [])
        if len(by_name) == 1:
            return by_name[0], code
        raise _unmapped(legacy, f"2025 commune {row['ward']!r} ({code}, province {province}) "
                                f"is not in the registry ({len(by_name)} by name)")

    def convert_many(self, legacy_codes: list[str]) -> dict[str, UnitConversion]:
        return {code: self.convert(code) for code in legacy_codes}

    def convert_district(self, district_code: str) -> dict[str, UnitConversion]:
        """Every legacy commune of a legacy district, converted (in code order)."""
        communes = registry("legacy").communes_of_district(district_code)
        return {c.code: self.convert(c.code) for c in communes}

    def convert_province(self, province_code: str) -> dict[str, UnitConversion]:
        """Every legacy commune of a legacy province, converted (in code order)."""
        communes = registry("legacy").communes_of_province(province_code)
        return {c.code: self.convert(c.code) for c in communes}


def _unmapped(legacy: Commune, why: str) -> InputError:
    return InputError(
        "units.unmapped",
        f"legacy commune {legacy.code} ({legacy.name}) has no 2025 unit: {why}",
        f"xã cũ {legacy.code} ({legacy.name}) không quy đổi được sang đơn vị mới: {why}",
    )


@cache
def units_2025() -> Units2025:
    """The (cached) conversion tables."""
    return Units2025()


def convert(legacy_code: str) -> UnitConversion:
    """The 2025 unit of one legacy commune (see ``Units2025.convert``)."""
    return units_2025().convert(legacy_code)
