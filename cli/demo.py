"""`drugfree demo`: a province's whole year on the embedded default servers.

Districts propose their communes, the provincial police approves the selection list, the
phases run with reports (some late, so reminders and escalations fire), communes submit their
dossiers, reviewers approve and reject (some dossiers come back and are resubmitted), and the
provincial UBND approves the recognition list. Ends with a table per district and the target.
Runs on the time-skipping test server and a throwaway PostgreSQL unless TEMPORAL_ADDRESS /
DATABASE_URL point elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import uuid
from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

import typer

from catalog import DEFAULT_PLAN, get_plan
from cli.demo_data import after_conversion, baseline
from cli.errors import fail, guarded
from domain.admin_units import registry
from domain.clock import PlanClock, rehearsal_shift
from domain.identity import public_key_of, sign_token
from domain.plan import Plan
from domain.roles import Actor

SELECTED_SHARE = 0.35  # the province selects about a third of its communes to convert
LATE_SHARE = 0.15  # communes that miss a report deadline
REJECT_SHARE = 0.2  # dossiers the district appraisal sends back once


class Progress:
    def __init__(self, total: int) -> None:
        self.total, self.done = total, 0

    def step(self, label: str, n: int = 1) -> None:
        self.done += n
        width = 30
        filled = int(width * min(self.done, self.total) / self.total)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {label:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


@guarded
def demo_cmd(
    plan_id: Annotated[str, typer.Option("--plan", help="Plan id.")] = DEFAULT_PLAN,
    communes: Annotated[int | None, typer.Option("--communes", min=1,
                                                 help="Limit to the first N communes.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed for the metrics.")] = 2025,
) -> None:
    """Run a plan's year for a province's communes and print the results per district."""
    plan = get_plan(plan_id)
    from temporalio.client import WorkflowUpdateFailedError
    from temporalio.service import RPCError

    try:
        asyncio.run(_demo(plan, communes, seed))
    except (RPCError, WorkflowUpdateFailedError) as exc:
        fail(f"the Temporal server refused or did not answer: {exc}")


async def _demo(plan: Plan, limit: int | None, seed: int) -> None:
    from eventstore.embedded import database_url
    from runtime.temporal import temporal_environment
    from worker import running_worker

    reg = registry(plan.structure)
    units = (reg.communes_of_district(plan.district_code) if plan.district_code
             else reg.communes_of_province(plan.province_code))
    if limit:
        units = units[:limit]
    if not units:
        fail("the plan's territory has no communes")
    rng = random.Random(seed)
    from pathlib import Path

    from runtime import logs

    log_path = Path("var") / "demo-notifications.log"
    log_path.parent.mkdir(exist_ok=True)
    log_file = log_path.open("w", encoding="utf-8")
    # Notifications go to the log channel: into a file, so the table stays readable.
    logs.configure("INFO", stream=log_file)
    async with database_url() as db, temporal_environment("time-skipping") as (client, env):
        if env is None:
            fail("the demo needs the time-skipping server: unset TEMPORAL_ADDRESS")
        tq = f"demo-{uuid.uuid4().hex[:6]}"
        async with running_worker(client, db, task_queue=tq):
            result = await _run_year(client, env, plan, units, rng, tq)
        report = await _verify(db)
    _print_table(plan, units, result)
    where = ("DATABASE_URL" if os.environ.get("DATABASE_URL") else
             "a throwaway PostgreSQL, removed on exit (set DATABASE_URL to keep it)")
    typer.echo(f"\nAudit trail: {report.events} events in {report.streams} streams, hash chains "
               f"{'verified' if report.ok else 'BROKEN: ' + str(report.broken)}; in {where}. "
               "Replay a case with `drugfree db verify STREAM`.")
    typer.echo(f"Notifications (log channel): {log_path}")
    log_file.close()


async def _verify(db: str) -> Any:
    from eventstore.store import EventStore
    from eventstore.urls import app_url

    async with await EventStore.connect(app_url(db)) as store:
        return await store.verify()


async def _run_year(client: Any, env: Any, plan: Plan, units: list[Any], rng: random.Random,
                    tq: str) -> dict[str, Any]:
    from runtime.temporal import skip_until
    from workflows.campaign import ProvinceCampaignWorkflow
    from workflows.messages import (
        CampaignInput,
        ChainDecision,
        Proposal,
        RecognitionList,
        ReportSubmission,
        SelectionList,
    )
    from workflows.names import campaign_id, recognition_id

    now = await env.get_current_time()
    clock = PlanClock(shift_years=rehearsal_shift(plan, plan.local_date(now)))
    everyone = {u.code: u.district_code for u in units}
    # The demo plays the identity service too: every actor's token is signed with this key,
    # and every workflow verifies it.
    signing_key = os.urandom(32)
    token_expiry = clock.deadline(plan, plan.ends_on) + timedelta(days=365)
    camp = await client.start_workflow(
        ProvinceCampaignWorkflow.run,
        CampaignInput(plan=plan, clock=clock, commune_districts=everyone,
                      identity_key=public_key_of(signing_key)),
        id=f"{campaign_id(plan.id)}-{uuid.uuid4().hex[:6]}", task_queue=tq)

    def actor(role: str, commune: Any = None, district: str | None = None) -> Actor:
        who = Actor(person_id=f"demo-{role}-{commune.code if commune else district or ''}",
                    role=role, province_code=plan.province_code,  # type: ignore[arg-type]
                    district_code=(commune.district_code if commune else district),
                    commune_code=commune.code if commune and role == "commune_ubnd" else None)
        return who.model_copy(update={"token": sign_token(signing_key, who, token_expiry)})

    async def skip_to(day: Any, hours: float = 9) -> None:
        await skip_until(env, clock.day_start(plan, day) + timedelta(hours=hours))

    progress = Progress(total=len(units) * 8 + 4)
    stats: dict[str, Any] = {"late": Counter(), "rejected": Counter()}
    gate = asyncio.Semaphore(24)

    async def each(fn: Any, items: list[Any]) -> list[Any]:
        async def one(x: Any) -> Any:
            async with gate:
                return await fn(x)
        return await asyncio.gather(*(one(x) for x in items))

    # 1. Districts propose every commune with its baseline (before the district list date).
    baselines = {u.code: baseline(rng) for u in units}
    proposer = "district_ubnd" if plan.has_districts else "province_police"
    by_district: dict[str | None, list[Any]] = {}
    for u in units:
        by_district.setdefault(u.district_code, []).append(u)
    for district, members in by_district.items():
        await camp.execute_update(ProvinceCampaignWorkflow.propose, Proposal(
            request_id=f"propose-{district}", actor=actor(proposer, district=district),
            communes={u.code: baselines[u.code] for u in members}))
        progress.step(f"proposed district {district or plan.province_code}", len(members))

    # 2. The province selects about a third, preferring communes with the fewest addicts.
    ranked = sorted(units, key=lambda u: (baselines[u.code]["addicts_total"], u.code))
    chosen = ranked[: max(1, round(len(units) * SELECTED_SHARE))]
    selection = plan.deadlines_of("selection")[0]
    await skip_to(selection.due - timedelta(days=2))
    await camp.execute_update(ProvinceCampaignWorkflow.approve_selection, SelectionList(
        request_id="selection", actor=actor(selection.role, district=plan.district_code),
        selected=[u.code for u in chosen]))
    progress.step("selection list approved", len(units))

    late = {u.code for u in chosen if rng.random() < LATE_SHARE}
    succeeds = {u.code: rng.random() < 0.8 for u in chosen}
    rejected_once = {u.code for u in chosen if succeeds[u.code] and rng.random() < REJECT_SHARE}

    async def submit(u: Any, deadline_id: str, metrics: dict[str, Any] | None) -> Any:
        from workflows.conversion import CommuneConversionWorkflow
        from workflows.names import case_id
        h = client.get_workflow_handle(case_id(plan.id, u.code))
        return await h.execute_update(CommuneConversionWorkflow.submit_report, ReportSubmission(
            request_id=f"{deadline_id}-{u.code}", actor=actor("commune_ubnd", u),
            deadline_id=deadline_id, metrics=metrics))

    # 3. The year: every submission before its deadline, except the late communes' first
    #    phase report, which comes a week after the deadline passed (reminders, escalation).
    for d in sorted(plan.deadlines, key=lambda d: d.due):
        if d.kind in ("selection", "district_list"):
            continue
        if d.kind == "dossier":
            await skip_to(d.due - timedelta(days=3))
            await each(lambda u: submit(u, d.id, after_conversion(rng, baselines[u.code],
                                                                  succeeds[u.code])), chosen)
            progress.step("dossiers submitted", len(chosen))
            await _review(client, plan, chosen, actor, rejected_once, succeeds, each, skip_to,
                          ChainDecision, recognition_id, progress, stats)
            continue
        on_time = [u for u in chosen if not (u.code in late and d.kind == "phase_report"
                                              and d.phase == 1)]
        await skip_to(d.due - timedelta(days=1))
        await each(lambda u: submit(u, d.id, baselines[u.code] if d.kind == "phase_report"
                                    else None), on_time)
        if len(on_time) < len(chosen):
            await skip_to(d.due + timedelta(days=7))
            await each(lambda u: submit(u, d.id, baselines[u.code]),
                       [u for u in chosen if u not in on_time])
            stats["late"].update(u.district_code for u in chosen if u not in on_time)
        progress.step(f"{d.id} ({d.due})", len(chosen) // 2)

    # 4. The provincial UBND approves the recognition list in one decision.
    ready = [u.code for u in chosen if succeeds[u.code]]
    await camp.execute_update(ProvinceCampaignWorkflow.approve_recognition, RecognitionList(
        request_id="recognition-list", actor=actor(list_role(plan), district=plan.district_code),
        communes=ready))
    progress.step("recognition list approved", 1)
    status = await camp.result()
    progress.close()
    return {"status": status, "chosen": {u.code for u in chosen}, **stats}


async def _review(client: Any, plan: Plan, chosen: list[Any], actor: Any, rejected_once: set[str],
                  succeeds: dict[str, bool], each: Any, skip_to: Any, ChainDecision: Any,
                  recognition_id: Any, progress: Progress, stats: dict[str, Any]) -> None:
    """Reviewers sign every level but the province's list decision; some reject once."""
    from workflows.recognition import RecognitionWorkflow

    async def decide(u: Any, kind: str, role: str, level: str, reason: str = "") -> Any:
        h = client.get_workflow_handle(recognition_id(plan.id, u.code))
        who = actor(role, u) if role == "commune_ubnd" else actor(role, u if role.startswith(
            "district_") else None, None if role.startswith("district_") else plan.district_code)
        return await h.execute_update(RecognitionWorkflow.decide, ChainDecision(
            request_id=f"{kind}-{level}-{role}-{u.code}-{uuid.uuid4().hex[:4]}", actor=who,
            kind=kind, level=level if kind != "resubmit" else None, reason=reason))

    in_chain = [u for u in chosen if succeeds[u.code]]
    first = plan.approval_chain[0]
    back = [u for u in in_chain if u.code in rejected_once]
    await each(lambda u: decide(u, "reject", first.roles[0], first.id,
                                "hồ sơ thiếu biên bản kiểm tra / missing inspection record"), back)
    stats["rejected"].update(u.district_code for u in back)
    await each(lambda u: decide(u, "resubmit", "commune_ubnd", first.id), back)
    for lv in plan.approval_chain[:-1]:
        for role in lv.roles:
            await each(lambda u, role=role, lv=lv: decide(u, "approve", role, lv.id), in_chain)
        progress.step(f"level {lv.id} signed", len(chosen) // 2)
    last = plan.approval_chain[-1]
    for role in last.roles:
        if role != list_role(plan):
            await each(lambda u, role=role: decide(u, "approve", role, last.id), in_chain)


def list_role(plan: Plan) -> str:
    """Who approves the recognition list: the People's Committee where it signs the last level."""
    roles = plan.approval_chain[-1].roles
    return next((r for r in roles if r.endswith("_ubnd")), roles[0])


def _print_table(plan: Plan, units: list[Any], r: dict[str, Any]) -> None:
    status = r["status"]
    reg = registry(plan.structure)
    rows: dict[str, Counter[str]] = {}
    for u in units:
        key = u.district_code or plan.province_code
        c = rows.setdefault(key, Counter())
        c["communes"] += 1
        c["selected"] += u.code in r["chosen"]
        c["recognised"] += u.code in status.recognised
        c["not_recognised"] += u.code in r["chosen"] and u.code not in status.recognised
    typer.echo(f"\n{plan.title_vi}")
    header = f"{'Huyện / District':<32}{'Xã':>5}{'Chọn':>6}{'Công nhận':>11}{'Không':>7}" \
             f"{'Nộp trễ':>9}{'Trả lại':>9}"
    typer.echo(header)
    typer.echo("-" * len(header))
    total: Counter[str] = Counter()
    for key in sorted(rows):
        c = rows[key]
        total.update(c)
        name = reg.district(key).name if plan.has_districts else reg.province(key).name
        typer.echo(f"{name[:31]:<32}{c['communes']:>5}{c['selected']:>6}{c['recognised']:>11}"
                   f"{c['not_recognised']:>7}{r['late'][key]:>9}{r['rejected'][key]:>9}")
    typer.echo("-" * len(header))
    typer.echo(f"{'Tổng / Total':<32}{total['communes']:>5}{total['selected']:>6}"
               f"{total['recognised']:>11}{total['not_recognised']:>7}"
               f"{sum(r['late'].values()):>9}{sum(r['rejected'].values()):>9}")
    share = total["recognised"] / status.total_communes
    verdict = "ĐẠT / met" if status.target_met else "CHƯA ĐẠT / not met"
    typer.echo(f"\nChỉ tiêu {plan.target.share:.0%} số xã: {total['recognised']}/"
               f"{status.total_communes} = {share:.1%} -> {verdict}")
