"""The `drugfree` command line: a thin adapter over the domain, the event store and Temporal."""

from __future__ import annotations

import typer

from cli import api_cmd, auth, campaigns, cases, classify, db, demo, dev, plans

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
app.command("dev")(dev.dev_cmd)
app.command("api")(api_cmd.api_cmd)
app.add_typer(cases.app, name="case")
app.command("inbox")(cases.inbox_cmd)
app.add_typer(campaigns.app, name="campaign")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
