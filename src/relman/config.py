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
from .profile import detect_profile, is_cpython_checkout  # noqa: F401  (re-exported: the one detection rule)



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
    sigstore_trust_root: str | None = None     # a trusted_root.json to verify bundles against (default: public-good)
    allow_unsigned: bool = False               # rehearsals nobody downloads may skip signing


class BuildSettings(_Section):
    executor: Literal["local", "buildbot"] = "local"
    buildbot_url: str | None = None            # the master that runs build jobs (executor = "buildbot")
    buildbot_builder: str = "relman-jobs"
    drop_dir: str | None = None                # where the master keeps uploaded outputs (remote workers)
    # test-source: these replace the artifact profile's build commands / its test command
    build_command: list[str] | None = None
    test_command: list[str] | None = None
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
    package: str | None = None          # generic profile: the import package holding __version__
    version_files: list[dict[str, str]] = Field(default_factory=list)  # generic profile: [{path, key|pattern}]
    tools: list[str] = Field(default_factory=lambda: ["git"])

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def load_settings(repo: Path, overrides: dict[str, Any] | None = None, *,
                  config_file: Path | None = None) -> Settings:
    """Read relman.toml (or [tool.relman]) from the repository root, layer `config_file` (when
    given) and then `overrides` over it, and validate the result.

    A key that no setting reads, or a value of the wrong kind, is a ConfigError naming the file
    and line it is on (exit 2)."""
    data, where = read_repo_config(repo)
    layers: list[tuple[str, dict[str, Any]]] = [(where, data)] if where else []
    if config_file is not None:
        extra = Path(config_file)
        if not extra.is_file():
            raise ConfigError("no such configuration file", where=str(extra))
        extra_data = read_toml(extra)
        layers.append((str(extra), extra_data))
        data = _deep_merge(data, extra_data)
    data["profile"] = detect_profile(repo, data.get("profile"))
    merged = _deep_merge(data, overrides or {})
    try:
        return Settings.model_validate(merged)
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(str(part) for part in first["loc"])
        key = ".".join(loc)
        message = "unknown setting" if first["type"] == "extra_forbidden" else first["msg"]
        more = len(error.errors()) - 1
        raise ConfigError(f"{key}: {message}" + (f" (and {more} more problem(s))" if more else ""),
                          where=_where(loc, layers), hint=_suggest(loc) if first["type"] == "extra_forbidden"
                          else "see docs/configuration.md for every setting") from None


def _suggest(loc: tuple[str, ...]) -> str:
    """"did you mean …?" from the settings that exist where the unknown key is."""
    import difflib

    model: Any = Settings
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return "see docs/configuration.md for every setting"
        model = annotation
    known = sorted(model.model_fields)
    close = difflib.get_close_matches(loc[-1], known, n=1)
    where = ".".join(loc[:-1]) or "the top level"
    return (f"did you mean {close[0]}? " if close else "") + f"known settings in {where}: {', '.join(known)}"


def _where(loc: tuple[str, ...], layers: list[tuple[str, dict[str, Any]]]) -> str:
    """`file:line` of the layer that set `loc` (the last one wins), else the files read."""
    for source, data in reversed(layers):
        node: Any = data
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                break
        else:
            path = Path(source.split(" [")[0])
            line = locate_key(path, loc)
            return f"{path}:{line}" if line else source
    return " + ".join(source for source, _ in layers) or "defaults"


def locate_key(path: Path, loc: tuple[str, ...]) -> int | None:
    """The line of `loc` (table path + key) in a TOML file, found by reading its headers and keys."""
    import re

    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    names = [part for part in loc if not part.isdigit()]
    prefix: tuple[str, ...] = ()
    if path.name == "pyproject.toml":
        prefix = ("tool", "relman")
    table: tuple[str, ...] = ()
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
    assignment = re.compile(r"^\s*([A-Za-z0-9_.\"' -]+?)\s*=")
    for number, text in enumerate(lines, start=1):
        found = header.match(text)
        if found:
            table = tuple(part.strip().strip('"') for part in found[1].split("."))
            if table == prefix + tuple(names):
                return number
            continue
        found = assignment.match(text)
        if found:
            key = tuple(part.strip().strip('"') for part in found[1].split("."))
            if table + key == prefix + tuple(names):
                return number
    return None


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
