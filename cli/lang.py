"""The language users read: Vietnamese by default, English on request (``--lang en``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Lang(StrEnum):
    vi = "vi"
    en = "en"


LangOption = Annotated[Lang, typer.Option("--lang", help="Output language: vi (default) or en.")]
