"""`drugfree plans list|show`: the shipped plans (kế hoạch) and what they contain."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from activities.plan_catalog import get_plan, plan_ids
from cli.errors import guarded
from cli.lang import Lang, LangOption

app = typer.Typer(help="Plans: timelines, deadlines, criteria and approval chains.")


@app.command("list")
@guarded
def list_plans(lang: LangOption = Lang.vi) -> None:
    """List the shipped plans."""
    for pid in plan_ids():
        p = get_plan(pid)
        title = p.title_vi if lang == "vi" else p.title_en
        typer.echo(f"{pid}\t{p.starts_on}..{p.ends_on}\t{title}")


@app.command("show")
@guarded
def show_plan(
    plan_id: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    lang: LangOption = Lang.vi,
) -> None:
    """Show one plan: phases, deadlines, approval chain."""
    p = get_plan(plan_id)
    if as_json:
        typer.echo(json.dumps(p.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    vi = lang == "vi"
    typer.echo(f"{p.id}: {p.title_vi if vi else p.title_en}")
    typer.echo(f"  {'Nguồn' if vi else 'Source'}: {p.source}")
    typer.echo(f"  {'Thời gian' if vi else 'Period'}: {p.starts_on} .. {p.ends_on} ({p.timezone})")
    typer.echo(f"  {'Bộ tiêu chí' if vi else 'Criteria set'}: {p.criteria_set}; "
               f"{'phân loại' if vi else 'classification'}: {p.classification_rules}")
    typer.echo(f"  {'Chỉ tiêu' if vi else 'Target'}: {p.target.share:.0%} ({p.target.scope})")
    typer.echo(f"  {'Giai đoạn' if vi else 'Phases'}:")
    for ph in p.phases:
        typer.echo(f"    {ph.number}. {ph.starts_on} .. {ph.ends_on}  "
                   f"{ph.name_vi if vi else ph.name_en}")
    typer.echo(f"  {'Thời hạn' if vi else 'Deadlines'}:")
    for d in sorted(p.deadlines, key=lambda d: d.due):
        typer.echo(f"    {d.due}  {d.id:<20} {d.role:<16} {d.title_vi if vi else d.title_en}")
    typer.echo(f"  {'Quy trình xét duyệt' if vi else 'Approval chain'}:")
    for i, lv in enumerate(p.approval_chain, 1):
        rule = _rule_label(lv.rule, lv.quorum, len(lv.members), vi)
        typer.echo(f"    {i}. {lv.id:<20} [{', '.join(lv.roles)}]{rule} "
                   f"{lv.deadline_days}d  {lv.name_vi if vi else lv.name_en}")


def _rule_label(rule: str, quorum: int | None, members: int, vi: bool) -> str:
    """How a level passes, shown only when it is not the default (every role signs)."""
    if rule == "any_of":
        return " (một trong các cơ quan)" if vi else " (any one of them)"
    if rule == "quorum":
        return (f" (biểu quyết {quorum}/{members} thành viên)" if vi
                else f" (vote: {quorum} of {members} members)")
    return ""
