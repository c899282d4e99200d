"""Announcement drafts rendered from Jinja2 templates with the release's facts.

Four drafts, always written to a folder before anything is sent (and what is sent is read back
from that folder, so an edited draft is what goes out):

- `blog.md`: the blog / Discourse post (Markdown);
- `email.eml`: the mailing-list email (plain text, UTF-8, From/To/Subject/Date/Message-ID);
- `mastodon.txt`: the Mastodon post, at most 500 characters as Mastodon counts them (a link
  counts 23); highlights are dropped from the end until it fits;
- `handoff.eml`: the hand-off mail to the platform experts (tag, commit, where to deliver);

plus `facts.json`, the data they were rendered from. The project can override any template
by putting a file of the same name in the folder named by `[announce] templates`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2

from ..config import AnnounceSettings
from ..errors import UsageError
from .facts import ReleaseFacts

MASTODON_LIMIT = 500
MASTODON_URL_LENGTH = 23
TEMPLATES = ("subject.txt.j2", "blog.md.j2", "email.txt.j2", "mastodon.txt.j2", "handoff.txt.j2", "live.txt.j2")
DRAFT_FILES = {"blog": "blog.md", "email": "email.eml", "mastodon": "mastodon.txt", "handoff": "handoff.eml"}
_URL = re.compile(r"https?://\S+")


def mastodon_length(text: str) -> int:
    """The length Mastodon counts: every link is 23 characters, whatever its length."""
    return len(_URL.sub("x" * MASTODON_URL_LENGTH, text))


def template_environment(override_dir: str | Path | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir:
        folder = Path(override_dir).expanduser()
        if not folder.is_dir():
            raise UsageError(f"the announcement templates folder {folder} does not exist",
                             where="[announce] templates", hint="create it, or remove the setting")
        loaders.append(jinja2.FileSystemLoader(str(folder)))
    loaders.append(jinja2.PackageLoader("relman.announce", "templates"))
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                              autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def _render(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateError as error:
        where = getattr(error, "filename", None) or name
        line = getattr(error, "lineno", None)
        raise UsageError(f"announcement template {name}: {error}",
                         where=f"{where}:{line}" if line else where,
                         hint="fix the template (the facts it can use are in facts.json next to the drafts)") from None


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@dataclass
class Drafts:
    subject: str
    blog: str
    email: EmailMessage
    mastodon: str
    handoff: EmailMessage | None
    facts: ReleaseFacts

    def as_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "blog": self.blog, "email": self.email.as_string(),
                "mastodon": self.mastodon, "mastodon_length": mastodon_length(self.mastodon),
                "handoff": self.handoff.as_string() if self.handoff else None}


def _message(subject: str, body: str, sender: str | None, to: list[str]) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    if sender:
        msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    domain = sender.rsplit("@", 1)[-1].strip("> ") if sender and "@" in sender else None
    msg["Message-ID"] = make_msgid("relman", domain=domain)
    msg.set_content(body, charset="utf-8")
    return msg


def render_drafts(facts: ReleaseFacts, settings: AnnounceSettings) -> Drafts:
    env = template_environment(settings.templates)
    context = facts.as_dict()
    subject = _render(env, "subject.txt.j2", context).strip()
    blog = _tidy(_render(env, "blog.md.j2", context))
    body = _tidy(_render(env, "email.txt.j2", context))
    email = _message(subject, body, settings.email.sender, settings.email.to)
    highlights = list(facts.highlights)
    while True:
        mastodon = _tidy(_render(env, "mastodon.txt.j2", {**context, "highlights": highlights})).rstrip("\n")
        if mastodon_length(mastodon) <= MASTODON_LIMIT:
            break
        if not highlights:
            raise UsageError(f"the Mastodon post is {mastodon_length(mastodon)} characters (limit {MASTODON_LIMIT})",
                             where="mastodon.txt.j2", hint="shorten the template")
        highlights = highlights[:-1]
        if highlights:
            highlights[-1] = highlights[-1]       # keep the remaining ones whole
    handoff = None
    if settings.platform_experts:
        handoff = _message(f"{facts.project} {facts.version}: tagged, ready for the platform builds",
                           _tidy(_render(env, "handoff.txt.j2", context)), settings.email.sender,
                           settings.platform_experts)
    return Drafts(subject, blog, email, mastodon, handoff, facts)


def render_live_post(facts: ReleaseFacts, milestone: str, settings: AnnounceSettings, **extra: Any) -> str:
    env = template_environment(settings.templates)
    return _render(env, "live.txt.j2", {**facts.as_dict(), "milestone": milestone, "countdown": None, **extra}).strip()


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_drafts(drafts: Drafts, folder: Path) -> dict[str, Path]:
    """Write every draft (and facts.json); returns the paths by draft name."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"blog": folder / DRAFT_FILES["blog"], "email": folder / DRAFT_FILES["email"],
               "mastodon": folder / DRAFT_FILES["mastodon"], "facts": folder / "facts.json"}
    _atomic(written["blog"], drafts.blog.encode())
    _atomic(written["email"], drafts.email.as_bytes())
    _atomic(written["mastodon"], (drafts.mastodon + "\n").encode())
    if drafts.handoff is not None:
        written["handoff"] = folder / DRAFT_FILES["handoff"]
        _atomic(written["handoff"], drafts.handoff.as_bytes())
    _atomic(written["facts"], (json.dumps(drafts.facts.as_dict(), indent=2, ensure_ascii=False) + "\n").encode())
    return written


def read_email(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.SMTP).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def read_post(path: Path) -> tuple[str, str]:
    """A Markdown draft → (title from its first "# " line, the rest)."""
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if first.startswith("# "):
        return first[2:].strip(), rest.strip() + "\n"
    return "", text
