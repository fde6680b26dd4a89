"""Workflow ids and message names: the public addresses of the case workflows.

Ids are built and parsed here only (no ``split`` on ids elsewhere), and the names of updates,
signals and queries are constants, so a client, the fan-out activity and the workflows cannot
drift apart. The names equal the handlers' method names that recorded histories use.
"""

from __future__ import annotations

CASE = "conversion"
RECOGNITION = "recognition"
CAMPAIGN = "campaign"
ROUND = "round"

# Updates and queries of CommuneConversionWorkflow
DECIDE_SELECTION = "decide_selection"
SUBMIT_REPORT = "submit_report"
WITHDRAW = "withdraw"
AMEND = "amend"  # apply an amendment (văn bản sửa đổi)
CHAIN_AMENDED = "chain_amended"  # signal: the chain recorded the amendment
# Updates of RecognitionWorkflow
DECIDE = "decide"
AMEND_CHAIN = "amend_chain"  # signal from its case: move onto the amended plan
# Updates and signals of ProvinceCampaignWorkflow
PROPOSE = "propose"
APPROVE_SELECTION = "approve_selection"
APPROVE_RECOGNITION = "approve_recognition"
CASE_CLOSED = "case_closed"
# Updates of ReportingRoundWorkflow
SUBMIT_UNIT_REPORT = "submit_unit_report"
SEND_BACK = "send_back"
DECIDE_ROUND = "decide_round"  # consolidate (tổng hợp) or approve (phê duyệt)
# Every workflow answers this query
STATUS = "status"
# ... and this one: the reply a request got, for its retry after the run ended
REPLY = "reply"
# Patches shared by the workflows (behaviour changes since the recorded histories)
ADMISSION = "trust-admission"  # a start is admitted by the worker's trust before it writes
FAN_OUT_PARTS = "fan-out-parts"  # a campaign delivers a large list in parts under 2 MB
AMENDMENTS = "plan-amendments"  # a case or chain moved onto an amended plan
AGENDA_MOMENTS = "case-agenda-moments"  # a case's agenda: one timer (the next instant that
# records something), every point of an instant passed in one append, the closing with them
CHAIN_TIMER_KEPT = "chain-timer-kept"  # a chain's level timer outlives decisions that keep it
LOCAL_APPENDS = "local-appends"  # appends (and the admission) as local activities, if asked
LOCAL_FALLBACK = "local-failure-falls-back"  # a local activity's own failure (an
# ApplicationError, not an ActivityError) goes on as the regular activity too
PLAN_AT_OPENING = "plan-hash-at-opening"  # case.opened names the plan version's hash


def case_id(plan_id: str, commune_code: str) -> str:
    """``conversion:<plan>:<commune>``: one commune's case in one plan (also its stream)."""
    return f"{CASE}:{plan_id}:{commune_code}"


def recognition_id(plan_id: str, commune_code: str) -> str:
    return f"{RECOGNITION}:{plan_id}:{commune_code}"


def campaign_id(plan_id: str) -> str:
    return f"{CAMPAIGN}:{plan_id}"


def round_id(plan_id: str, round_id_: str) -> str:
    """``round:<plan>:<round>``: one reporting round of a reporting plan (also its stream)."""
    return f"{ROUND}:{plan_id}:{round_id_}"


def parse_round_id(workflow_id: str) -> tuple[str, str]:
    """(plan id, round id) of a round id; ValueError for anything else."""
    kind, sep, rest = workflow_id.partition(":")
    plan_id, sep2, rnd = rest.partition(":")
    if kind != ROUND or not sep or not sep2 or not plan_id or not rnd or ":" in rnd:
        raise ValueError(f"not a reporting round id: {workflow_id!r}")
    return plan_id, rnd


def parse_case_id(workflow_id: str) -> tuple[str, str]:
    """(plan id, commune code) of a case or recognition id; ValueError for anything else."""
    kind, sep, rest = workflow_id.partition(":")
    plan_id, sep2, commune = rest.partition(":")
    if kind not in (CASE, RECOGNITION) or not sep or not sep2 or not plan_id or \
            not commune.isdigit() or ":" in commune:
        raise ValueError(f"not a case or recognition workflow id: {workflow_id!r}")
    return plan_id, commune


def parse_campaign_id(workflow_id: str) -> str:
    """The plan id of a campaign id (``campaign:<plan>``, optionally ``-<suffix>``-free)."""
    kind, sep, plan_id = workflow_id.partition(":")
    if kind != CAMPAIGN or not sep or not plan_id or ":" in plan_id:
        raise ValueError(f"not a campaign workflow id: {workflow_id!r}")
    return plan_id
