"""Start or resume a release run: the glue shared by `relman run`, `relman plan` and `relman demo`.

It resolves the configuration, builds the plan, takes the lock, finds the run to resume (or
creates one), shows input drift, and runs the engine with the right display and gate policy.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings, load_settings
from ..engine.display import choose_display
from ..engine.journal import ABANDONED, Journal, RunRow
from ..engine.plan import Plan
from ..engine.runner import ApprovalPolicy, Observer, RunResult, Runner, describe_drift, refuse_drift, run_lock
from ..engine.secrets import Redactor
from ..errors import JournalBroken, UsageError
from ..paths import default_state_dir
from ..vcs import Git
from ..version import Version
from .context import Release
from .recovery import Cleanup, prepare_redo
from .recovery import abort as abort_release
from .workflow import release_plan


@dataclass
class ReleaseSession:
    version: Version
    repo: Path
    settings: Settings
    state_dir: Path
    work_dir: Path
    extra_params: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, version: str, repo: str | Path, *, state_dir: Path | None = None, work_dir: Path | None = None,
             overrides: dict[str, Any] | None = None, config_file: Path | None = None) -> ReleaseSession:
        v = Version.parse(version)
        repo_path = Path(repo).expanduser().resolve()
        if not repo_path.is_dir():
            raise UsageError(f"no such repository folder: {repo_path}", hint="pass --repo PATH to a git checkout")
        if not Git(repo_path).is_repo():
            raise UsageError(f"{repo_path} is not a git repository", hint="pass --repo PATH to a git checkout")
        settings = load_settings(repo_path, overrides, config_file=config_file)
        state = Path(state_dir) if state_dir else default_state_dir()
        work = Path(work_dir) if work_dir else state / "work" / f"{repo_path.name}-{v.text}"
        return cls(v, repo_path, settings, state, work)

    @property
    def key(self) -> str:
        return f"{self.settings.project}:{self.repo}:{self.version.text}"

    @property
    def db_path(self) -> Path:
        return self.state_dir / "relman.db"

    def params(self) -> dict[str, Any]:
        s = self.settings
        return {"version": self.version.text, "repo": str(self.repo), "work_dir": str(self.work_dir),
                "profile": s.profile, "fork": s.remotes.fork, "upstream": s.remotes.upstream,
                "sign_tags": s.git.sign_tags, "executor": s.build.executor,
                "publishing": s.publish.configured,
                "config": s.dump(), "release_branch": self.release().release_branch, "news_dir": s.news.dir,
                "signing": s.signing.model_dump(mode="json"),
                "build_commands": [s.build.build_command, s.build.test_command],
                "readiness_sources": [x for x in (s.readiness.buildbot, s.readiness.tracker) if x],
                "live_posts": s.announce.live.enabled, "announce_channels": list(s.announce.channels),
                **self.extra_params}

    def plan(self) -> Plan:
        return release_plan(self.params())

    def release_cycle(self) -> dict[str, Any] | None:
        """The schedule data in release-cycle.json shape (PEP numbers, branch status), when configured."""
        from ..readiness.sources import resolve_cycle_source

        source = resolve_cycle_source(self.settings.readiness.cycle, self.repo)
        if not source:
            return None
        from ..schedule.cycle import load_cycle

        return load_cycle(source, cache_dir=self.state_dir / "cache").release_cycle_json()

    def executor(self):
        """Where build jobs run: local processes, or Buildbot workers."""
        if "executor" in self.resources:
            return self.resources["executor"]
        build = self.settings.build
        if build.executor == "buildbot":
            if not build.buildbot_url:
                raise UsageError("the Buildbot executor needs a master: set [build] buildbot_url in relman.toml",
                                 hint="or use `relman demo --executor buildbot`, which starts one")
            from ..ci.buildbot_executor import BuildbotExecutor

            return BuildbotExecutor(build.buildbot_url, builder=build.buildbot_builder,
                                    drop_dir=Path(build.drop_dir) if build.drop_dir else None,
                                    log_dir=self.work_dir / "logs")
        from ..ci.local import LocalExecutor

        return LocalExecutor(log_dir=self.work_dir / "logs")

    def redactor(self) -> Redactor:
        return Redactor(self.settings.secrets)

    def release(self) -> Release:
        return Release(self.version, self.repo, self.settings, Git(self.repo), self.work_dir)

    def select_run(self, journal: Journal, run_id: int | None = None) -> RunRow | None:
        """The run `--run N` names (it must be a run of this release), else the latest one."""
        if run_id is None:
            return journal.latest_run(self.key)
        run = journal.get_run(run_id)
        if run.key != self.key:
            raise UsageError(f"run {run_id} is not a run of {self.version} from {self.repo} (it is {run.key})",
                             hint="`relman runs` lists the runs and what they release")
        return run

    def run(self, *, approvals: ApprovalPolicy, observer: Observer | None = None, fresh: bool = False,
            accept_changes: bool = False, as_json: bool = False, max_parallel: int = 8,
            run_id: int | None = None, redo: str | None = None) -> RunResult:
        """Start a run, or resume one: `run_id` (default: the latest run of this release, unless it
        was abandoned), after verifying its journal and showing what changed since. `redo` re-runs
        that step and everything after it."""
        plan = self.plan()
        redact = self.redactor()
        if fresh and (run_id is not None or redo):
            raise UsageError("--fresh starts a new run; it cannot be combined with --run or --redo")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(self.state_dir / "locks", self.key):
            journal = Journal(self.db_path, redact=redact)
            try:
                selected = None if fresh else self.select_run(journal, run_id)
                if selected is not None:
                    require_intact(journal, selected.id)     # before trusting anything it says, even "done"
                if selected is not None and selected.status == ABANDONED:
                    if run_id is not None:
                        raise UsageError(f"run {selected.id} was abandoned (`relman abort`); it is never resumed",
                                         hint=f"`relman run {self.version}` starts a new run")
                    selected = None
                if selected is not None and redo is None and selected.status == "done":
                    return RunResult(selected.id, "done", journal.steps(selected.id), [], [], 0.0)
                if observer is None:
                    observer = choose_display(as_json, approvals.interactive)
                release = self.release()
                resources = {"release": release, "state_dir": self.state_dir, "release_cycle": self.release_cycle(),
                             "redact": redact, **self.resources, "executor": self.executor()}
                runner = Runner(journal, plan, key=self.key, resources=resources,
                                approvals=approvals, observer=observer, max_parallel=max_parallel, redact=redact)
                if selected is None:
                    if redo:
                        raise UsageError(f"there is no run of {self.version} to redo {redo} in",
                                         hint=f"`relman run {self.version}` starts one")
                    return runner.execute(runner.create_run())
                current = selected.id
                runner.credit_interrupted(current)
                drifts, changed = runner.drift(current)
                if drifts or changed:
                    rows = journal.steps(current)
                    if accept_changes:
                        runner.accept_drift(current, drifts, changed, "flag:--accept-changes")
                    elif approvals.interactive and sys.stdin.isatty():
                        print("The inputs changed since this run started:\n"
                              + describe_drift(drifts, changed, plan, rows))
                        if input("Continue with the new inputs? [y/yes/n/no] ").strip().lower() not in ("y", "yes"):
                            raise refuse_drift(drifts, changed, plan, rows)
                        runner.accept_drift(current, drifts, changed, "interactive")
                    else:
                        raise refuse_drift(drifts, changed, plan, rows)
                if redo:
                    steps = journal.steps(current)
                    cleanup = prepare_redo(release, plan, steps, redo)
                    redo_set = [sid for sid in plan.redo_set(redo) if sid in steps]
                    journal.reset_steps(current, redo_set, forced=[redo], kind="redo",
                                        data={"step": redo, "who": approvals.who, **cleanup.as_dict()})
                return runner.execute(current)
            finally:
                journal.close()

    def abort(self, *, run_id: int | None = None, who: str = "") -> tuple[int, Cleanup]:
        """`relman abort`: drop an unfinished run — its local tag and temporary branch, when the
        journal proves relman made them — and mark it abandoned (in the chain). Refused once
        anything was pushed."""
        with run_lock(self.state_dir / "locks", self.key):
            journal = Journal(self.db_path, redact=self.redactor())
            try:
                run = self.select_run(journal, run_id)
                if run is None:
                    raise UsageError(f"there is no run of {self.version} to abort", where=str(self.db_path))
                if run.status in ("done", ABANDONED):
                    raise UsageError(f"run {run.id} of {self.version} is {run.status}; there is nothing to abort",
                                     hint="a finished release cannot be aborted: release the next version instead"
                                     if run.status == "done" else f"`relman run {self.version}` starts a new run")
                require_intact(journal, run.id)
                cleanup = abort_release(self.release(), journal.steps(run.id))
                journal.set_run_status(run.id, ABANDONED, finished=True, data={"who": who, **cleanup.as_dict()})
                return run.id, cleanup
            finally:
                journal.close()


def require_intact(journal: Journal, run_id: int) -> None:
    """Refuse to act on a run whose journal its own hash chain does not prove."""
    problems = journal.verify(run_id)
    if problems:
        listed = "\n".join(f"  - {p}" for p in problems[:8]) + ("\n  …" if len(problems) > 8 else "")
        raise JournalBroken(f"the journal of run {run_id} does not match its hash chain; relman will not resume "
                            f"from it:\n{listed}", where=str(journal.path),
                            hint=f"`relman show --run {run_id}` and `relman journal verify --run {run_id}` list every "
                                 "problem; restore the state file from a backup, or start a new run with --fresh")
