"""Recorded histories of representative cases replay against today's workflow code.

A change to workflow code that would break running cases (non-determinism) fails here. To
record a new scenario (or one whose file was deleted on purpose) after an intended, patched
change: DRUGFREE_RECORD_HISTORIES=1 make test. Recording never overwrites a file: each one is
an older path of the code that must keep replaying.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from runtime.temporal import data_converter
from worker import WORKFLOWS, workflow_runner

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


def recorded() -> list[Path]:
    return sorted(HISTORIES.glob("*.json"))


def test_histories_are_recorded() -> None:
    names = {p.stem for p in recorded()}
    assert {"happy_path_case", "happy_path_recognition", "rejection_case",
            "withdrawal_case",  # recorded before amendments existed: they must still replay
            "amended_mid_chain_case", "amended_mid_chain_recognition",
            "reporting_round",
            # one timer at a time, one append per instant (names.AGENDA_MOMENTS,
            # names.CHAIN_TIMER_KEPT): tests/workflows/test_agenda_moments.py
            "moments_happy_path_case", "moments_happy_path_recognition",
            "moments_rejection_case", "moments_rejection_recognition",
            "moments_denied_case",
            "local_appends_case", "local_appends_recognition",  # issue 15: local activities
            } <= names, names


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize("sandbox", ["strict", "off"])
@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_replay(path: Path, sandbox: str) -> None:
    """Every recorded history replays as the tests run workflows (in the strict sandbox) and
    as production does (DRUGFREE_WORKFLOW_SANDBOX=off)."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(),
                        workflow_runner=workflow_runner(sandbox))
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None

