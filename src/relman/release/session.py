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
from ..engine.journal import Journal
from ..engine.plan import Plan, fingerprint
from ..engine.runner import ApprovalPolicy, Observer, RunResult, Runner, describe_drift, refuse_drift, run_lock
from ..engine.secrets import Redactor
from ..errors import UsageError
from ..paths import default_state_dir
from ..vcs import Git
from ..version import Version
from .context import Release
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
                "config_digest": fingerprint(s.dump()),
                "readiness_sources": [x for x in (s.readiness.buildbot, s.readiness.tracker) if x],
                "live_posts": s.announce.live.enabled,
                **self.extra_params}

    def plan(self) -> Plan:
        return release_plan(self.params())

    def release_cycle(self) -> dict[str, Any] | None:
        """The schedule data in release-cycle.json shape (PEP numbers, branch status), when configured."""
        source = self.settings.readiness.cycle
        if not source:
            return None
        from ..schedule.cycle import load_cycle

        if not str(source).startswith(("http://", "https://")) and not Path(source).is_absolute():
            source = str(self.repo / source)
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

    def run(self, *, approvals: ApprovalPolicy, observer: Observer | None = None, fresh: bool = False,
            accept_changes: bool = False, as_json: bool = False, max_parallel: int = 8) -> RunResult:
        plan = self.plan()
        redact = self.redactor()
        observer = observer or choose_display(as_json, approvals.interactive)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with run_lock(self.state_dir / "locks", self.key):
            journal = Journal(self.db_path, redact=redact)
            try:
                release = Release(self.version, self.repo, self.settings, Git(self.repo), self.work_dir)
                resources = {"release": release, "state_dir": self.state_dir, "release_cycle": self.release_cycle(),
                             "redact": redact, **self.resources, "executor": self.executor()}
                runner = Runner(journal, plan, key=self.key, resources=resources,
                                approvals=approvals, observer=observer, max_parallel=max_parallel, redact=redact)
                latest = journal.latest_run(self.key)
                if latest is None or fresh:
                    run_id = runner.create_run()
                elif latest.status == "done":
                    return RunResult(latest.id, "done", journal.steps(latest.id), [], [], 0.0)
                else:
                    run_id = latest.id
                    drifts, changed = runner.drift(run_id)
                    if drifts or changed:
                        if accept_changes:
                            runner.accept_drift(run_id, changed, "flag:--accept-changes")
                        elif approvals.interactive and sys.stdin.isatty():
                            print("The inputs changed since this run started:\n" + describe_drift(drifts, changed))
                            if input("Continue with the new inputs? [y/yes/n/no] ").strip().lower() not in ("y", "yes"):
                                raise refuse_drift(drifts, changed)
                            runner.accept_drift(run_id, changed, "interactive")
                        else:
                            raise refuse_drift(drifts, changed)
                return runner.execute(run_id)
            finally:
                journal.close()
