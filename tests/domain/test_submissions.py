"""Submissions by kind (the earliest outstanding deadline of a kind) and the attachment field's
compatibility: without files, the event payload and the workflow message are as before."""

from __future__ import annotations

import pytest

import catalog
from domain.case import CaseError, CaseState, submission_deadline
from domain.events import Attachment, ReportSubmitted, parse_event
from domain.roles import Actor
from workflows.messages import ReportSubmission

PLAN = catalog.get_plan("tra-vinh-2025")
SHA = "ab" * 32


def test_a_kind_means_its_earliest_outstanding_deadline() -> None:
    fresh = CaseState(opened=True, selected=True)
    assert submission_deadline(PLAN, fresh, None, "forum") == "forum_q2"
    after_q2 = fresh.model_copy(update={"submitted": {"forum_q2": False}})
    assert submission_deadline(PLAN, after_q2, None, "forum") == "forum_q3"
    assert submission_deadline(PLAN, after_q2, None, "phase_report") == "phase_1_report"
    both = fresh.model_copy(update={"submitted": {"forum_q2": False, "forum_q3": True}})
    with pytest.raises(CaseError) as refused:
        submission_deadline(PLAN, both, None, "forum")
    assert refused.value.code == "submission.none_outstanding" and refused.value.message_vi
    # a dossier that did not meet the criteria may come again
    sent = fresh.model_copy(update={"submitted": {"dossier": False}})
    assert submission_deadline(PLAN, sent, None, "dossier") == "dossier"


def test_a_deadline_alone_is_kept_and_a_contradiction_refused() -> None:
    state = CaseState(opened=True, selected=True)
    assert submission_deadline(PLAN, state, "forum_q3", None) == "forum_q3"
    assert submission_deadline(PLAN, state, "forum_q3", "forum") == "forum_q3"
    for deadline, kind, code in (("phase_1_report", "forum", "submission.kind_mismatch"),
                                 (None, None, "submission.deadline_required"),
                                 (None, "selection", "submission.unknown_kind")):
        with pytest.raises(CaseError) as refused:
            submission_deadline(PLAN, state, deadline, kind)
        assert refused.value.code == code


def test_without_files_the_payload_and_the_message_are_as_before() -> None:
    plain = ReportSubmitted(deadline_id="forum_q2", submitted_by="p", role="commune_ubnd",
                            late=False, summary="")
    assert plain.payload() == {"deadline_id": "forum_q2", "submitted_by": "p",
                               "role": "commune_ubnd", "late": False, "summary": ""}
    with_file = plain.model_copy(update={"attachments": [
        Attachment(name="a.pdf", sha256=SHA, size=3)]})
    assert with_file.payload()["attachments"] == [{"name": "a.pdf", "sha256": SHA, "size": 3}]
    assert parse_event("report.submitted", 2, with_file.payload()) == with_file
    assert parse_event("report.submitted", 2, plain.payload()) == plain

    actor = Actor(person_id="p", role="commune_ubnd", province_code="84")
    message = ReportSubmission(request_id="r", actor=actor, deadline_id="forum_q2")
    assert set(message.model_dump(mode="json")) == {
        "request_id", "actor", "proof", "deadline_id", "metrics", "summary"}
    by_kind = ReportSubmission(request_id="r", actor=actor, kind="forum", attachments=[
        Attachment(name="a.pdf", sha256=SHA, size=3)])
    assert ReportSubmission.model_validate(by_kind.model_dump(mode="json")) == by_kind
