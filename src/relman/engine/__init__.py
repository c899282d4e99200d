"""The generic release engine: a typed DAG of steps, run in parallel, journaled in SQLite.

It knows nothing about Python or releases; `relman.release` defines the release workflow on top.
"""

from .journal import Journal
from .plan import Plan
from .runner import ApprovalPolicy, RunResult, Runner, run_lock
from .secrets import Redactor
from .step import IRREVERSIBLE, LOCAL, REMOTE, Effect, Gate, GateRequired, Retry, Step, StepContext

__all__ = ["ApprovalPolicy", "Effect", "Gate", "GateRequired", "IRREVERSIBLE", "Journal", "LOCAL", "Plan",
           "REMOTE", "Redactor", "Retry", "RunResult", "Runner", "Step", "StepContext", "run_lock"]
