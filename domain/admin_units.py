"""Administrative units (đơn vị hành chính) of Viet Nam with their official GSO codes.

Two structures exist (see ../shared/data/README.md):
- ``legacy``: province (tỉnh, 2 digits) > district (huyện, 3 digits) > commune (xã/phường/
  thị trấn, 5 digits), for plans written before 1 Jul 2025;
- ``current``: province > commune, since 1 Jul 2025 (Law 72/2025/QH15 abolished districts).

The tables are parsed lazily from generated string constants: no file I/O, so the module is
safe inside Temporal's workflow sandbox.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from domain import _admin_units_data as _data
from domain.errors import InputError

Structure = Literal["legacy", "current"]
STRUCTURES: tuple[Structure, ...] = ("legacy", "current")

# ASCII digits, whole string: ``\d`` would admit other scripts' digits and ``$`` a final "\n".
_PROVINCE_RE = re.compile(r"[0-9]{2}")
_DISTRICT_RE = re.compile(r"[0-9]{3}")
_COMMUNE_RE = re.compile(r"[0-9]{5}")


class Province(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    name: str


class District(BaseModel):
    """Huyện / quận / thị xã / thành phố thuộc tỉnh (legacy structure only)."""

    model_config = ConfigDict(frozen=True)
    code: str
    name: str
    province_code: str


class Commune(BaseModel):
    """Xã / phường / thị trấn. ``district_code`` is None in the current structure."""

    model_config = ConfigDict(frozen=True)
    code: str
    name: str
    kind: Literal["xa", "phuong", "thi_tran", "dac_khu"]
    province_code: str
    district_code: str | None


def _kind(name: str) -> Literal["xa", "phuong", "thi_tran", "dac_khu"]:
    # The CSV's commune_type column is unreliable (data README): read the name's prefix.
    if name.startswith("Phường"):
        return "phuong"
    if name.startswith("Thị trấn"):
        return "thi_tran"
    if name.startswith("Đặc khu"):
        return "dac_khu"
    return "xa"


class AdminRegistry:
    """Lookup over one structure's provinces, districts and communes."""

    def __init__(self, structure: Structure) -> None:
        self.structure: Structure = structure
        self.provinces: dict[str, Province] = {}
        self.districts: dict[str, District] = {}
        self.communes: dict[str, Commune] = {}
        if structure == "legacy":
            for line in _data.LEGACY.split("\n"):
                pc, pn, dc, dn, cc, cn = line.split("|")
                self.provinces.setdefault(pc, Province(code=pc, name=pn))
                self.districts.setdefault(dc, District(code=dc, name=dn, province_code=pc))
                self.communes[cc] = Commune(
                    code=cc, name=cn, kind=_kind(cn), province_code=pc, district_code=dc
                )
        else:
            for line in _data.CURRENT.split("\n"):
                pc, pn, cc, cn = line.split("|")
                self.provinces.setdefault(pc, Province(code=pc, name=pn))
                self.communes[cc] = Commune(
                    code=cc, name=cn, kind=_kind(cn), province_code=pc, district_code=None
                )

    def province(self, code: str) -> Province:
        if not _PROVINCE_RE.fullmatch(code):
            raise InputError("units.bad_code", f"province code must be 2 digits, got {code!r}")
        try:
            return self.provinces[code]
        except KeyError:
            raise InputError(
                "units.unknown", f"unknown province code {code!r} ({self.structure})"
            ) from None

    def district(self, code: str) -> District:
        if self.structure == "current":
            raise InputError(
                "units.no_districts", "districts do not exist in the current (2025) structure"
            )
        if not _DISTRICT_RE.fullmatch(code):
            raise InputError("units.bad_code", f"district code must be 3 digits, got {code!r}")
        try:
            return self.districts[code]
        except KeyError:
            raise InputError("units.unknown", f"unknown district code {code!r}") from None

    def commune(self, code: str) -> Commune:
        if not _COMMUNE_RE.fullmatch(code):
            raise InputError("units.bad_code", f"commune code must be 5 digits, got {code!r}")
        try:
            return self.communes[code]
        except KeyError:
            raise InputError(
                "units.unknown", f"unknown commune code {code!r} ({self.structure})"
            ) from None

    def communes_of_province(self, province_code: str) -> list[Commune]:
        self.province(province_code)
        return sorted(
            (c for c in self.communes.values() if c.province_code == province_code),
            key=lambda c: c.code,
        )

    def communes_of_district(self, district_code: str) -> list[Commune]:
        self.district(district_code)
        return sorted(
            (c for c in self.communes.values() if c.district_code == district_code),
            key=lambda c: c.code,
        )

    def districts_of_province(self, province_code: str) -> list[District]:
        self.province(province_code)
        return sorted(
            (d for d in self.districts.values() if d.province_code == province_code),
            key=lambda d: d.code,
        )


@cache
def registry(structure: Structure) -> AdminRegistry:
    """The (cached) registry of a structure: ``legacy`` or ``current``."""
    if structure not in STRUCTURES:
        raise InputError("units.bad_structure", f"unknown structure {structure!r}")
    return AdminRegistry(structure)
