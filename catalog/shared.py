"""One copy of each plan per worker, however many cases run under it.

A case's input carries its whole plan (about 10 kB of JSON, some 80 kB as pydantic objects),
and a worker keeps every open case in memory: 3,321 cases, each with its own decoded copy of
the same plan, spent a quarter of a gigabyte on identical objects (issue 15). ``shared``
hands back the worker's copy of an equal plan instead. Plans are frozen models and every
amendment makes a new one, so sharing changes nothing a workflow computes, only how many
copies exist; a copy no case holds any more is let go (weak references).
"""

from __future__ import annotations

import threading
import weakref
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_copies: weakref.WeakValueDictionary[tuple[type, str], BaseModel] = weakref.WeakValueDictionary()
# workflow tasks run on several threads of the worker
_lock = threading.Lock()


def shared(model: M) -> M:
    """The worker's copy of a frozen model equal to ``model`` (``model`` itself the first
    time). Equal means the same JSON, so two plans differing in anything stay apart."""
    key = (type(model), model.model_dump_json())
    with _lock:
        copy = _copies.get(key)
        if copy is None:
            _copies[key] = model
            return model
    return copy  # type: ignore[return-value]

