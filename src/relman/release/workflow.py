"""The release workflow: the whole DAG for one version, assembled from the phases.

`plan` and `run` both come through here, so the dry run shows exactly what a run would do.
"""

from __future__ import annotations

from ..engine.plan import Plan
from ..engine.step import Step
from .announce import announce_steps, live_steps, schedule_steps
from .build import BUILD_DONE, build_steps
from .handoff import handoff_steps
from .inputs import declare_inputs
from .post import post_steps
from .preflight import preflight_steps
from .publish import PUBLISH_DONE, publish_steps
from .source import source_steps

WORKFLOW = "release"


def release_steps() -> list[Step]:
    steps = preflight_steps() + source_steps() + build_steps() + handoff_steps() + publish_steps()
    after_publish = ("source.push-fork", *BUILD_DONE, *PUBLISH_DONE)
    steps = steps + post_steps(after_publish)
    return declare_inputs(steps + schedule_steps() + announce_steps(steps) + live_steps(steps))


def release_plan(params: dict) -> Plan:
    return Plan.build(WORKFLOW, release_steps(), params)
