"""How a run ends, for people: what was done, where the artifacts and the diary are, and what
comes next (the command that resumes it, the gates to approve, how to verify the release).

`relman run` and `relman demo` both end with `summarize_run(...).lines()`, so a real release
ends the way the rehearsal does. The diary (the run's timeline from the journal) is written
next to the run's work folder.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.runner import RunResult
from ..errors import RelmanError


@dataclass
class RunSummary:
    version: str
    run_id: int
    status: str
    repo: Path
    state_dir: Path
    profile: str = ""
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)     # (step, first line of its error)
    paused: list[tuple[str, str]] = field(default_factory=list)     # (step, gate)
    pending: list[str] = field(default_factory=list)
    artifacts_dir: Path | None = None
    diary: Path | None = None
    tag: str | None = None
    pushed: list[str] = field(default_factory=list)
    verify_args: list[str] = field(default_factory=list)
    resume: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "run_id": self.run_id, "status": self.status, "profile": self.profile,
                "done": self.done,
                "skipped": self.skipped, "failed": [{"step": s, "error": e} for s, e in self.failed],
                "paused": [{"step": s, "gate": g} for s, g in self.paused], "pending": self.pending,
                "artifacts_dir": str(self.artifacts_dir) if self.artifacts_dir else None,
                "diary": str(self.diary) if self.diary else None, "tag": self.tag, "pushed": self.pushed,
                "next": self.next_commands()}

    def next_commands(self) -> list[str]:
        state = ["--state", str(self.state_dir)]
        show = shlex.join(["relman", "show", str(self.run_id), *state])
        if self.status == "done":
            commands = []
            if self.artifacts_dir is not None:
                commands.append(shlex.join(["relman", "verify", str(self.artifacts_dir), *self.verify_args]))
            return commands + [show, shlex.join(["relman", "report", str(self.run_id), *state])]
        if self.status == "paused":
            gates = ",".join(sorted({gate for _, gate in self.paused}))
            return [shlex.join([*self.resume, "--approve", gates]), show]
        return [shlex.join(self.resume), show]

    def lines(self) -> list[str]:
        counts = f"{len(self.done)} done, {len(self.skipped)} skipped"
        if self.failed:
            counts += f", {len(self.failed)} failed"
        if self.paused:
            counts += f", {len(self.paused)} waiting for approval"
        if self.pending:
            counts += f", {len(self.pending)} not started"
        verdict = {"done": "released", "paused": "paused", "failed": "stopped"}.get(self.status, self.status)
        out = [f"{self.version}: {verdict} (run {self.run_id}; {counts})"]
        if self.profile:
            out.append(f"profile:   {self.profile}")
        if self.tag:
            out.append(f"tag:       {self.tag}")
        if self.pushed:
            out.append(f"pushed:    {'; '.join(self.pushed)}")
        if self.artifacts_dir is not None:
            out.append(f"artifacts: {self.artifacts_dir}")
        if self.diary is not None:
            out.append(f"diary:     {self.diary}")
        out.append(f"journal:   {self.state_dir / 'relman.db'}")
        for step, error in self.failed:
            out.append(f"failed:    {step}: {error}")
        for step, gate in self.paused:
            out.append(f"waiting:   {step} needs approval of gate {gate}")
        if self.status == "failed":
            out.append("left:      fix what failed, then run the same command again: finished steps are kept")
        elif self.status == "paused":
            out.append(f"left:      {len(self.pending) + len(self.paused)} step(s) after the approval")
        commands = self.next_commands()
        out.append(f"next:      {commands[0]}")
        out += [f"           {command}" for command in commands[1:]]
        return out


def verify_arguments(settings: Any) -> list[str]:
    """The `relman verify` options that pin what this project signs with."""
    signing = settings.signing
    args: list[str] = []
    if signing.gpg_key:
        from ..artifacts.signing import GpgSigner

        home = Path(signing.gnupghome).expanduser() if signing.gnupghome else None
        try:
            fingerprint = GpgSigner(signing.gpg_key, home).fingerprint()
        except RelmanError:
            fingerprint = signing.gpg_key
        args += (["--gnupghome", str(home)] if home else []) + ["--fingerprint", fingerprint]
    if signing.sigstore_identity and signing.sigstore_issuer:
        args += ["--identity", signing.sigstore_identity, "--issuer", signing.sigstore_issuer]
        if signing.sigstore_trust_root:
            args += ["--trust-root", signing.sigstore_trust_root]
    if not args and signing.allow_unsigned:
        args.append("--allow-unsigned")
    return args


def summarize_run(session: Any, result: RunResult, *, diary: Path | None = None) -> RunSummary:
    """The summary of `result` (a run of `session`, a ReleaseSession); writes the run's diary to
    `diary` (default: diary-run-N.md in the run's work folder)."""
    steps = result.steps
    summary = RunSummary(session.version.text, result.run_id, result.status, session.repo, session.state_dir,
                         profile=str(session.settings.profile))
    for step_id, row in steps.items():
        if row.status == "done":
            summary.done.append(step_id)
        elif row.status == "skipped":
            summary.skipped.append(step_id)
        elif row.status == "failed":
            summary.failed.append((step_id, (row.error or "").strip().splitlines()[0] if row.error else ""))
        elif row.status not in ("paused",):
            summary.pending.append(step_id)
    summary.paused = list(result.paused)
    outputs = {sid: (row.outputs or {}) for sid, row in steps.items() if getattr(row, "outputs", None)}
    summary.tag = outputs.get("source.tag", {}).get("tag")
    for sid in ("source.push-fork", "post.push-upstream"):
        pushed = outputs.get(sid, {})
        if pushed.get("pushed"):
            summary.pushed.append(f"{pushed.get('remote', sid)}: " + ", ".join(map(str, pushed["pushed"])))
    if "build.artifacts" in summary.done:
        summary.artifacts_dir = Path(outputs.get("build.artifacts", {}).get("directory")
                                     or session.work_dir / "artifacts")
    summary.verify_args = verify_arguments(session.settings)
    summary.resume = ["relman", "run", session.version.text, "--repo", str(session.repo),
                      "--state", str(session.state_dir)]
    summary.diary = _write_diary(session, result.run_id, diary or session.work_dir / f"diary-run-{result.run_id}.md")
    return summary


def _write_diary(session: Any, run_id: int, path: Path) -> Path | None:
    from ..announce.diary import render_diary
    from ..engine.journal import Journal

    journal = Journal(session.db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_diary(journal, run_id, "md"))
    except (OSError, RelmanError):
        return None
    finally:
        journal.close()
    return path
