"""catalog.shared: one copy of each plan per worker (issue 15's worker memory)."""

from __future__ import annotations

import gc
import weakref

from catalog import get_plan
from catalog.shared import shared
from domain.plan import Plan


def test_equal_plans_decoded_apart_become_one_copy() -> None:
    # an id no other test's plan has: a worker in this process may share the catalogue's
    text = get_plan("ninh-binh-2026").model_copy(update={"id": "shared-one"}).model_dump_json()
    first, second = Plan.model_validate_json(text), Plan.model_validate_json(text)
    assert first is not second and first == second
    assert shared(first) is first
    assert shared(second) is first  # the second case's copy is dropped for the first's


def test_plans_that_differ_in_anything_stay_apart() -> None:
    plan = get_plan("ninh-binh-2026").model_copy(update={"id": "shared-apart"})
    other = plan.model_copy(update={"title_vi": plan.title_vi + " (sửa đổi)"})
    assert shared(plan) is plan
    assert shared(other) is other


def test_a_copy_no_case_holds_is_let_go() -> None:
    plan = get_plan("ninh-binh-2026").model_copy(update={"id": "shared-let-go"})
    assert shared(plan) is plan
    gone = weakref.ref(plan)
    del plan
    gc.collect()
    assert gone() is None  # the worker's table did not keep it alive
    again = get_plan("ninh-binh-2026").model_copy(update={"id": "shared-let-go"})
    assert shared(again) is again
