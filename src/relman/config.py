"""relman.toml or [tool.relman] in pyproject.toml → typed settings; profile selection.

Endpoints live here (remotes, Buildbot, tracker, downloads site, upload target…). Secrets
are named by environment variable and never stored. A CPython checkout needs no file at
all: it gets the CPython profile with CPython's conventions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .configfile import read_repo_config, read_toml
from .errors import ConfigError



class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Remotes(_Section):
    fork: str = "origin"          # the RM's fork: a remote name or URL
    upstream: str = "upstream"    # the canonical repository: a remote name or URL


class GitSettings(_Section):
    sign_tags: Literal["none", "gpg", "ssh"] = "none"
    signing_key: str | None = None
    temp_branch: str = "branch-{tag}"
    release_branch: str | None = None   # default: CPython's rule (main for alphas and b1, else X.Y)
    max_repo_age_hours: float = 24.0


class Gates(_Section):
    # Gates a policy pre-approves ("*" for all); recorded in the journal as approved by the policy.
    policy: list[str] = Field(default_factory=list)
    policy_name: str = "relman.toml policy"


class NewsSettings(_Section):
    dir: str = "Misc/NEWS.d"


class ReadinessSettings(_Section):
    buildbot: str | None = None
    tracker: str | None = None
    tracker_token_env: str = "GITHUB_TOKEN"
    cycle: str | None = None
    idle_days: float = 14.0


class SigningSettings(_Section):
    # The same keys relman.artifacts.signing.signers_from_config reads.
    gpg_key: str | None = None
    gnupghome: str | None = None
    gpg_passphrase_env: str | None = None      # the env var holding the passphrase (never the passphrase)
    sigstore_identity: str | None = None
    sigstore_issuer: str | None = None
    sigstore_staging: bool = False
    allow_unsigned: bool = False               # rehearsals nobody downloads may skip signing


class BuildSettings(_Section):
    executor: Literal["local", "buildbot"] = "local"
    buildbot_url: str | None = None            # the master that runs build jobs (executor = "buildbot")
    buildbot_builder: str = "relman-jobs"
    drop_dir: str | None = None                # where the master keeps uploaded outputs (remote workers)
    test_command: list[str] = Field(default_factory=lambda: ["make", "test"])
    build_command: list[str] = Field(default_factory=lambda: ["make"])
    docs: bool = True
    timeout_s: float = 1800.0
    # Remote workers (executor = "buildbot"): they fetch the tag from worker_fork_url (default: the
    # fork remote's URL), run worker_command (their own relman) and build unsigned; the gate's
    # second build runs on another worker ("worker"), here ("home"), or the first that can ("auto").
    worker_command: list[str] = Field(default_factory=lambda: ["relman"])
    worker_fork_url: str | None = None
    reproducible_on: Literal["auto", "worker", "home"] = "auto"


class EmailChannel(_Section):
    sender: str | None = None                  # From: (e.g. "Hugo <hugo@python.org>")
    to: list[str] = Field(default_factory=list)   # the mailing lists
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    starttls: bool = False
    user_env: str | None = None                # env vars naming the SMTP login (never the values)
    password_env: str | None = None


class MastodonChannel(_Section):
    url: str | None = None                     # the instance, e.g. https://mastodon.social
    token_env: str = "MASTODON_TOKEN"
    visibility: Literal["public", "unlisted", "private", "direct"] = "public"


class DiscourseChannel(_Section):
    url: str | None = None                     # e.g. https://discuss.python.org
    api_key_env: str = "DISCOURSE_API_KEY"
    username: str | None = None                # Api-Username
    category: int | None = None                # a new topic in this category…
    topic_id: int | None = None                # …or a reply in this topic


class LivePosts(_Section):
    enabled: bool = False                      # short posts at milestones during a run
    channel: Literal["feed", "mastodon", "discourse"] = "feed"
    feed: str | None = None                    # the local feed file (default: <work dir>/live-feed.jsonl)


class AnnounceSettings(_Section):
    templates: str | None = None               # a folder whose templates override the built-in ones
    drafts_dir: str | None = None              # default: <work dir>/announce
    channels: list[Literal["email", "mastodon", "discourse"]] = Field(default_factory=list)
    release_manager: str | None = None         # default: the schedule's release manager
    release_page: str = "https://www.python.org/downloads/release/python-{nickname}/"
    downloads_url: str = "https://www.python.org/downloads/"
    changelog_url: str = "https://docs.python.org/{xy}/whatsnew/changelog.html"
    platform_experts: list[str] = Field(default_factory=list)   # hand-off mail recipients
    handoff_drop: str | None = None            # where platform experts deliver their files
    timeout_s: float = 20.0
    email: EmailChannel = Field(default_factory=EmailChannel)
    mastodon: MastodonChannel = Field(default_factory=MastodonChannel)
    discourse: DiscourseChannel = Field(default_factory=DiscourseChannel)
    live: LivePosts = Field(default_factory=LivePosts)


class PublishSettings(_Section):
    """Where a release goes after the build: upload target, downloads site, CDN, platform hand-offs."""

    target: Literal["local", "sftp"] = "local"
    downloads_dir: str | None = None           # local target: the ftp root (X.Y.Z/ folders below it)
    docs_dir: str | None = None                # local target: docs are unpacked into <docs_dir>/release/<version>/
    sftp_host: str | None = None
    sftp_port: int = 22
    sftp_user: str | None = None
    sftp_known_hosts: str | None = None        # strict host-key checking: the host must be listed here
    sftp_key: str | None = None                # private key file (default: the ssh agent / ~/.ssh keys)
    sftp_root: str = "/srv/www.python.org/ftp/python"
    sftp_docs_root: str | None = None          # docs are unpacked into <sftp_docs_root>/release/<version>/
    parallel: int = 16                         # files in flight at once
    site_url: str | None = None                # the downloads site (its /api/v1/downloads/ API)
    api_key_env: str = "RELMAN_DOWNLOADS_API_KEY"   # env var holding "user:key" (never the key itself)
    file_url: str | None = None                # public folder URL of a release's files; default: the profile's
    public_url: str | None = None              # where users download (the CDN); default: file URLs as registered
    cdn_purge: str | None = None               # PURGE endpoint; unset: no purge
    drop_dir: str | None = None                # platform hand-offs: folder the platform builders deliver into
    drop_sftp: bool = False                    # drop_dir is on the SFTP server (sftp_host…), not on this machine
    handoff_timeout_s: float = 6 * 3600.0      # how long to wait for platform files
    handoff_deadline_hours: float = 24.0       # the deadline written in the hand-off
    smtp_host: str | None = None               # hand-off emails are sent when set (else drafts only)
    smtp_port: int = 25
    mail_from: str = "release-manager@localhost"
    platform_contacts: dict[str, str] = Field(default_factory=dict)   # platform → email address

    @property
    def configured(self) -> bool:
        return bool(self.downloads_dir if self.target == "local" else self.sftp_host)


class Settings(_Section):
    profile: Literal["cpython", "generic", "demo"] = "cpython"
    project: str = "CPython"
    remotes: Remotes = Field(default_factory=Remotes)
    git: GitSettings = Field(default_factory=GitSettings)
    gates: Gates = Field(default_factory=Gates)
    news: NewsSettings = Field(default_factory=NewsSettings)
    readiness: ReadinessSettings = Field(default_factory=ReadinessSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)
    build: BuildSettings = Field(default_factory=BuildSettings)
    announce: AnnounceSettings = Field(default_factory=AnnounceSettings)
    publish: PublishSettings = Field(default_factory=PublishSettings)
    secrets: list[str] = Field(default_factory=list)   # environment variable names holding secrets
    artifacts_dir: str | None = None
    package: str | None = None          # generic profile: the import package holding __version__
    version_files: list[dict[str, str]] = Field(default_factory=list)  # generic profile: [{path, key|pattern}]
    tools: list[str] = Field(default_factory=lambda: ["git"])

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def is_cpython_checkout(repo: Path) -> bool:
    readme = repo / "README.rst"
    return ((repo / "Include" / "patchlevel.h").is_file() and (repo / "Python" / "ceval.c").is_file()
            and readme.is_file() and readme.read_text(errors="replace").startswith("This is Python version"))


def load_settings(repo: Path, overrides: dict[str, Any] | None = None, *,
                  config_file: Path | None = None) -> Settings:
    """Read relman.toml (or [tool.relman]) from the repository root, layer `config_file` (when
    given) and then `overrides` over it, and validate the result."""
    data, where = read_repo_config(repo)
    sources = [where] if where else []
    if config_file is not None:
        extra = Path(config_file)
        if not extra.is_file():
            raise ConfigError("no such configuration file", where=str(extra))
        data = _deep_merge(data, read_toml(extra))
        sources.append(str(extra))
    if "profile" not in data and not is_cpython_checkout(repo):
        data["profile"] = "generic"
    merged = _deep_merge(data, overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ConfigError(f"invalid configuration: {problems}", where=" + ".join(sources) or "defaults",
                          hint="see docs/configuration.md for every setting") from None


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
