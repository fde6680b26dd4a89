"""A legacy commune's 2025 unit (đơn vị hành chính mới): the data an amendment maps codes with.

Pure data: ``catalog.units_2025`` builds these from the official conversion tables published
in the ``vietnamadminunits`` package (file reads, so not here); the amendment code in
``domain.amendment`` only reads them, so it stays safe inside a workflow.

Codes are always the project's own registry codes (``domain.admin_units``, GSO): where the
package's code for a new commune differs from the registry's, the registry's code is used and
the package's is kept in ``package_code`` so the difference stays visible.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NewUnit(BaseModel):
    """One 2025 commune a legacy commune's area went (wholly or partly) into."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    commune_code: str = Field(pattern=r"^[0-9]{5}$")
    commune_name: str
    default: bool = False  # the package's default new commune for a split legacy commune


class UnitConversion(BaseModel):
    """Legacy commune (province > district > commune) -> 2025 commune (province > commune)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    legacy_commune_code: str = Field(pattern=r"^[0-9]{5}$")
    legacy_commune_name: str
    legacy_district_code: str = Field(pattern=r"^[0-9]{3}$")
    legacy_district_name: str
    legacy_province_code: str = Field(pattern=r"^[0-9]{2}$")
    commune_code: str = Field(pattern=r"^[0-9]{5}$")
    commune_name: str
    province_code: str = Field(pattern=r"^[0-9]{2}$")
    province_name: str
    # A legacy commune split between several new ones: every candidate, the default marked;
    # ``commune_code`` is the default. Empty when the commune went whole into one new commune.
    candidates: list[NewUnit] = []
    # The package's own code for the new commune when it is not the registry's (see above).
    package_code: str | None = None
    source: str = ""  # the table it came from, e.g. "vietnamadminunits 1.0.4"

    @property
    def split(self) -> bool:
        return len(self.candidates) > 1
