"""The language users read: Vietnamese by default, English on request (``--lang en``)."""

from __future__ import annotations

from typing import Annotated, Literal

import click
import typer

Lang = Literal["vi", "en"]

LangOption = Annotated[
    str,
    typer.Option("--lang", help="Output language: vi (default) or en.",
                 click_type=click.Choice(["vi", "en"])),
]
