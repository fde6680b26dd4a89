"""The worker's logs withhold failure text (README, "No values in failures")."""

from __future__ import annotations

import io
import logging

from temporalio.exceptions import ApplicationError

from runtime.logs import WithholdFailureText

SECRET_TEXT = "Nguyễn Văn Bí Mật, thôn Ba"
SECRET_COUNT = 5555


def test_the_log_filter_withholds_sdk_failure_text() -> None:
    """The SDK's records of a failed activity or workflow task carry the exception, whose
    text (here pydantic's, quoting the input) must not reach the worker's output."""
    from pydantic import BaseModel

    class Msg(BaseModel):
        count: int

    try:
        try:
            Msg(count=f"{SECRET_TEXT} {SECRET_COUNT}")  # type: ignore[arg-type]
        except ValueError as inner:
            raise ApplicationError(f"refused: {SECRET_TEXT}", type="metrics.invalid") from inner
    except ApplicationError as exc:
        error = exc
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler.addFilter(WithholdFailureText())
    for name, msg in (("temporalio.activity", "Completing activity as failed"),
                      ("temporalio.worker._workflow_instance",
                       "Failed activation on workflow W with ID w and run ID r"),
                      ("temporalio.activity", f"Exception handling failed, original error: "
                                              f"{error}")):
        handler.handle(logging.LogRecord(name, logging.WARNING, __file__, 1, msg, None,
                                         (type(error), error, error.__traceback__)))
    text = out.getvalue()
    assert SECRET_TEXT not in text and str(SECRET_COUNT) not in text
    assert "Completing activity as failed" in text
    assert "ApplicationError(metrics.invalid) <- ValidationError" in text
    # our own records (structlog's, masked by key) are left alone
    handler.handle(logging.LogRecord("drugfree", logging.INFO, __file__, 1, "plain", None, None))
    assert out.getvalue().endswith("drugfree plain\n")
