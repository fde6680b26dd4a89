"""Value-free descriptions of pydantic validation errors.

``str(ValidationError)`` repeats what was sent (``input_value='...'``), and those messages end
up in workflow failures, replies and logs, where case data must not appear (README, "No values
in failures"). These helpers name the field and the rule only.
"""

from __future__ import annotations

import re

from pydantic import ValidationError
from pydantic_core import ErrorDetails

# A location part that is not a plain name (a dict key chosen by the caller) is not repeated:
# a key is input too, and could carry text about a person.
_PLAIN = re.compile(r"[A-Za-z0-9_.-]{1,40}")

# Rules whose pydantic message could quote the input, said without it.
_RULES: dict[str, str] = {
    "string_too_long": "must have at most {max_length} characters",
    "string_too_short": "must have at least {min_length} characters",
    "too_long": "must have at most {max_length} items",
    "too_short": "must have at least {min_length} items",
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "json_invalid": "is not valid JSON",
}


def problems(exc: ValidationError) -> list[str]:
    """One ``"field: rule"`` per error, never the submitted value."""
    return [_describe(err) for err in exc.errors(include_url=False, include_input=False)]


def describe(exc: ValidationError, limit: int = 5) -> str:
    """The first ``limit`` problems in one line."""
    found = problems(exc)
    more = f"; and {len(found) - limit} more" if len(found) > limit else ""
    return "; ".join(found[:limit]) + more


def _describe(err: ErrorDetails) -> str:
    where = ".".join(str(p) if isinstance(p, int) or _PLAIN.fullmatch(p) else "<key>"
                     for p in err["loc"])
    template = _RULES.get(err["type"])
    if template is not None:
        rule = template.format(**(err.get("ctx") or {}))
    else:
        # pydantic's own ``msg`` states the rule (the input is only in ``input``); messages
        # of the domain's validators name fields, not values (see domain.metrics).
        rule = err["msg"].removeprefix("Value error, ")
    return f"{where}: {rule}" if where else rule
