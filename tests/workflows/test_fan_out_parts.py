"""A campaign delivers a large list in parts (workflows/campaign.py fan_out_parts): a whole
province's case starts carry a plan each, and in one activity call they passed the server's
2 MB payload limit (found by the edges benchmark: 168 communes failed every attempt)."""

from __future__ import annotations

from activities.contracts import CaseCommand
from catalog import get_plan
from domain.roles import Actor, CaseScope
from workflows.campaign import FAN_OUT_PART_BYTES, fan_out_parts
from workflows.messages import CaseInput

SERVER_LIMIT = 2 * 1024 * 1024


def starts(n: int) -> list[CaseCommand]:
    plan = get_plan("ninh-binh-2027")
    actor = Actor(person_id="p-police", role="province_police", province_code=plan.province_code)
    out = []
    for i in range(n):
        code = f"{90000 + i}"
        case = CaseInput(plan=plan, scope=CaseScope(province_code=plan.province_code,
                                                    district_code=None, commune_code=code),
                         opened_by=actor, baseline={}, campaign_id="campaign:x")
        out.append(CaseCommand(key=code, workflow_id=f"conversion:{plan.id}:{code}", update="",
                               payload={}, start=case.model_dump(mode="json"), via="campaign:x"))
    return out


def test_a_province_of_starts_goes_in_parts_under_the_limit() -> None:
    commands = starts(200)
    whole = sum(len(c.model_dump_json()) for c in commands)
    assert whole > SERVER_LIMIT  # what failed: one call with all of them
    parts = fan_out_parts(commands)
    assert len(parts) > 1
    assert [c.key for p in parts for c in p] == [c.key for c in commands]  # all, in order
    assert all(sum(len(c.model_dump_json()) for c in p) <= FAN_OUT_PART_BYTES for p in parts)


def test_small_lists_stay_one_call_and_a_huge_command_goes_alone() -> None:
    commands = starts(3)
    assert fan_out_parts(commands) == [commands]
    assert fan_out_parts([]) == []
    one = len(commands[0].model_dump_json())
    assert fan_out_parts(commands, limit=one // 2) == [[c] for c in commands]
