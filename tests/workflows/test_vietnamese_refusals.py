"""What users read is Vietnamese by default: a refusal raised inside a workflow (a validator's
``refuse``/``refuse_domain``) reaches the service layer with its Vietnamese wording, carried in
the Temporal failure's details, next to the English message and the unchanged code."""

from __future__ import annotations

import ast
import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from service import ServiceError
from service.errors import guarded, translate
from tests.workflows.support import CLEAN, Case, rid
from workflows import names
from workflows.messages import ChainDecision

PLAN = "tra-vinh-2025"
COMMUNE = "29473"  # district 849; used by no other test
WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
# Letters only Vietnamese writes (with its tone marks): plain ASCII English has none of them.
VIETNAMESE = re.compile(r"[ăâđêôơưàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵ]",
                        re.IGNORECASE)


def assert_vietnamese(err: ServiceError, code: str) -> None:
    assert err.code == code, (err.code, err.message)
    assert err.message_vi, f"{code}: no Vietnamese wording ({err.message})"
    assert VIETNAMESE.search(err.message_vi), err.message_vi
    assert err.message_vi != err.message
    assert err.text() == err.message_vi and err.text("en") == err.message


async def refused(call: Any, code: str) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        await call
    assert_vietnamese(info.value, code)
    return info.value


@pytest.mark.asyncio(loop_scope="session")
async def test_workflow_refusals_reach_the_service_in_vietnamese(make_case: Any) -> None:
    case: Case = await make_case(PLAN, COMMUNE)
    await case.start()
    try:
        # the case workflow's validators (domain.case through refuse_domain)
        await refused(case.select(selected=False, reason=" "), "case.reason_required")
        await refused(case.withdraw("thử", actor=case.actor("commune_ubnd")), "case.wrong_role")
        await case.select()
        await refused(case.select(), "case.already_decided")
        await refused(case.submit("dossier", None), "case.metrics_required")
        await case.submit("dossier", CLEAN)
        first, last = case.plan.approval_chain[0], case.plan.approval_chain[-1]

        # the recognition chain's (domain.approval): a level that is not pending, a rejection
        # without its reason, a signer of another level
        err = await refused(case.decide("approve", case.actor(first.roles[0]), last.id),
                            "chain.wrong_level")
        assert first.name_vi in err.message_vi and last.name_vi in err.message_vi
        await refused(case.decide("reject", case.actor(first.roles[0]), first.id, reason=""),
                      "chain.reason_required")
        await refused(case.decide("approve", case.actor(last.roles[0]), first.id),
                      "chain.wrong_role")
        # a workflow's own refuse(...) with its wording (workflows/recognition.py)
        await refused(case.decide("delegate", case.actor(first.roles[0]), first.id),
                      "chain.bad_delegate")

        # a command proof made for another workflow (the case), sent to the chain
        decision = ChainDecision(request_id=rid(), actor=case.actor(first.roles[0]),
                                 kind="approve", level=first.id)
        signed = await case.service.signed(case.id, decision)
        await refused(guarded(case.chain.execute_update(names.DECIDE, signed), case.rid),
                      "identity.wrong_target")
    finally:
        # The server lives for the session: a running case left behind stalls time skipping.
        for handle in (case.handle, case.chain):
            with contextlib.suppress(RPCError):
                await handle.terminate(reason="test over")


def test_translate_reads_the_wording_from_the_details_and_tolerates_odd_ones() -> None:
    def cause(*details: Any) -> WorkflowUpdateFailedError:
        return WorkflowUpdateFailedError(ApplicationError("level x is not pending", *details,
                                                          type="chain.wrong_level"))

    err = translate(cause({"message_vi": "bước x không chờ quyết định"}))
    assert (err.code, err.message, err.message_vi) == (
        "chain.wrong_level", "level x is not pending", "bước x không chờ quyết định")
    # older workflows' refusals (no details) and details of another shape: English only
    for odd in ((), ("text",), ({"message_vi": 5},), ({"message_vi": " "},), (None, [1])):
        err = translate(cause(*odd))
        assert err.code == "chain.wrong_level" and err.message_vi is None, odd
        assert err.text() == "level x is not pending"


def _vietnamese_argument(call: ast.Call) -> ast.expr | None:
    """The ``message_vi`` a ``refuse(code, message, message_vi)`` call passes, if any."""
    if len(call.args) >= 3:
        return call.args[2]
    return next((k.value for k in call.keywords if k.arg == "message_vi"), None)


def _has_vietnamese_text(node: ast.expr) -> bool:
    """A literal (or f-string) with Vietnamese letters, or a name/call that carries one
    (a constant such as ``NOT_A_CHILD_VI``, ``exc.text('vi')``, ``vi_of(details)``)."""
    texts = [n.value for n in ast.walk(node)
             if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    if any(VIETNAMESE.search(t) for t in texts):
        return True
    names = [n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
             if isinstance(n, ast.Name | ast.Attribute)]
    return "vi" in texts or any("vi" in name.lower().split("_") for name in names)


def test_every_refusal_in_the_workflows_has_its_vietnamese_wording() -> None:
    """A future ``refuse(...)`` without a Vietnamese message fails here."""
    found: list[str] = []
    missing: list[str] = []
    for path in sorted(WORKFLOWS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "refuse":
                where = f"{path.name}:{node.lineno}"
                found.append(where)
                vi = _vietnamese_argument(node)
                if vi is None or not _has_vietnamese_text(vi):
                    missing.append(where)
    assert len(found) >= 15, found  # the walk does see the refusals
    assert missing == [], f"refuse(...) without a Vietnamese message: {missing}"


DOMAIN = WORKFLOWS.parent / "domain"


@pytest.mark.parametrize("module", ["case.py", "approval.py", "identity.py"])
def test_every_refusal_of_the_deciders_has_its_vietnamese_wording(module: str) -> None:
    """The deciders a user's command meets give each refusal a third, Vietnamese argument."""
    missing = []
    raises = 0
    for node in ast.walk(ast.parse((DOMAIN / module).read_text())):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and \
                getattr(node.exc.func, "id", "").endswith("Error"):
            raises += 1
            args = node.exc.args
            starred = any(isinstance(a, ast.Starred) for a in args)  # (*jurisdiction_problem)
            if not starred and (len(args) < 3 or not _has_vietnamese_text(args[2])):
                missing.append(f"{module}:{node.lineno}")
    assert raises >= 5
    assert missing == [], f"refusals without a Vietnamese message: {missing}"
