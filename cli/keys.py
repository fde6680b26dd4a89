"""``drugfree keys``: the payload encryption keys (khóa mã hóa dữ liệu) of the worker, API and
clients: ``new`` writes a key file with one key; ``rotate`` adds a new key and makes it the
one that seals from now on, keeping the old ones to open what they sealed; ``list`` shows the
key ids (never the keys). Point ``DRUGFREE_PAYLOAD_KEYS_FILE`` at the file, in every process
that talks to the workflow service; rotate, then restart them (each reads the ring at start).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.client import say
from cli.errors import fail
from cli.lang import Lang, LangOption
from runtime.codec import ENV_KEYS_FILE, KeyRing, PayloadKeyError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Khóa mã hóa dữ liệu / payload encryption keys: new, rotate, list.")

FileOption = Annotated[Path, typer.Option(
    "--file", envvar=ENV_KEYS_FILE, dir_okay=False,
    help=f"Tệp khóa / the key file ({ENV_KEYS_FILE})")]
IdOption = Annotated[str | None, typer.Option(
    "--id", help="Mã khóa mới / the new key's id (default: k-<date>-<random>)")]


@app.command("new")
def new_cmd(file: FileOption, key_id: IdOption = None, lang: LangOption = Lang.vi) -> None:
    """Tạo tệp khóa mới với một khóa / write a new key file with one key (never over one)."""
    if file.exists():
        fail(say(lang, f"{file} đã có; không ghi đè khóa (dùng `drugfree keys rotate`)",
                 f"{file} exists; keys are never overwritten (use `drugfree keys rotate`)"))
    try:
        ring = KeyRing.fresh(key_id)
        ring.save(file)
    except PayloadKeyError as exc:
        fail(exc.text(lang.value))
    typer.echo(say(lang, f"đã tạo {file}; khóa hiện hành: {ring.current}",
                   f"wrote {file}; current key: {ring.current}"))


@app.command("rotate")
def rotate_cmd(file: FileOption, key_id: IdOption = None, lang: LangOption = Lang.vi) -> None:
    """Xoay vòng khóa / add a new key and make it current; old keys stay to open old data."""
    try:
        ring = KeyRing.load(file).rotated(key_id)
        ring.save(file)
    except PayloadKeyError as exc:
        fail(exc.text(lang.value))
    typer.echo(say(lang, f"khóa hiện hành: {ring.current} ({len(ring.keys)} khóa); khởi động "
                         "lại worker, API và các tiến trình khác để dùng khóa mới",
                   f"current key: {ring.current} ({len(ring.keys)} keys); restart the worker, "
                   "API and other processes to seal with it"))


@app.command("list")
def list_cmd(file: FileOption, lang: LangOption = Lang.vi) -> None:
    """Các mã khóa (không in khóa) / the key ids, the current one marked (keys never shown)."""
    try:
        ring = KeyRing.load(file)
    except PayloadKeyError as exc:
        fail(exc.text(lang.value))
    for key_id in sorted(ring.keys):
        mark = say(lang, " (hiện hành)", " (current)") if key_id == ring.current else ""
        typer.echo(f"{key_id}{mark}")
