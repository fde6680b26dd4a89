"""The `drugfree` command line: a thin adapter over the domain, the event store and Temporal."""

from __future__ import annotations

import os
import sys

import typer

# typer carries its own copy of click: its usage errors are of that copy's classes
from typer._click.exceptions import UsageError

from cli import (
    api_cmd,
    audit,
    auth,
    campaigns,
    cases,
    classify,
    codec_cmd,
    db,
    demo,
    dev,
    keys,
    ops_cmd,
    plans,
    rounds,
)
from cli.errors import EXIT_BAD_INPUT, payload_key_text
from runtime.codec import PayloadKeyError

app = typer.Typer(
    name="drugfree",
    help="Drug-free communes (xã, phường, thị trấn không ma túy): cases, plans, audit.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("classify")(classify.classify_cmd)
app.command("criteria")(classify.criteria_cmd)
app.add_typer(plans.app, name="plans")
app.command("demo")(demo.demo_cmd)

app.add_typer(db.app, name="db", help="Event store: migrate, verify, rebuild projections.")
app.add_typer(auth.app, name="auth")
app.add_typer(keys.app, name="keys")
app.command("dev")(dev.dev_cmd)
app.command("api")(api_cmd.api_cmd)
app.command("codec-server")(codec_cmd.codec_server_cmd)
app.command("dispatcher")(ops_cmd.dispatcher_cmd)
app.command("settings")(ops_cmd.settings_cmd)
app.add_typer(cases.app, name="case")
app.command("inbox")(cases.inbox_cmd)
app.add_typer(campaigns.app, name="campaign")
app.add_typer(rounds.app, name="round")
app.add_typer(rounds.programme_app, name="programme")
app.add_typer(audit.app, name="audit")


# click's usage errors, in the words users read first (the English follows, after a slash)
_USAGE_VI = (("Missing option", "thiếu tùy chọn"), ("Missing argument", "thiếu đối số"),
             ("No such option", "không có tùy chọn"), ("No such command", "không có lệnh"),
             ("Invalid value for", "giá trị không hợp lệ cho"),
             ("Got unexpected extra argument", "thừa đối số"),
             ("requires an argument", "cần một giá trị"))


def usage_line(exc: UsageError) -> str:
    """One line for a usage error: Vietnamese, then English, and where the help is."""
    english = " ".join(exc.format_message().split())
    vietnamese = english
    for en, vi in _USAGE_VI:
        vietnamese = vietnamese.replace(en, vi)
    where = exc.ctx.command_path if exc.ctx is not None else "drugfree"
    text = english if vietnamese == english else f"{vietnamese} / {english}"
    return f"error: {text} (xem / see: {where} --help) [usage]"


def main() -> None:
    """Run the command line; a usage error is one line on stderr and exit 2, never a box."""
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        if exc.format_message().strip():  # (no arguments at all: the help was printed)
            typer.echo(usage_line(exc), err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("đã hủy / aborted", err=True)
        sys.exit(1)
    except PayloadKeyError as exc:  # any other command that talks to the workflow service
        typer.echo(f"error: {payload_key_text(exc)}", err=True)
        finish(EXIT_BAD_INPUT)
    finish(code if isinstance(code, int) else 0)


def finish(code: int) -> None:
    """Exit with ``code``. After a Temporal client was used, skip the interpreter's teardown
    (output flushed first): the SDK's threads may abort it (runtime.temporal.connected)."""
    temporal = sys.modules.get("runtime.temporal")
    if temporal is not None and getattr(temporal, "connected", False):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
