"""Version-edit rules as data: which file, which text, what it becomes.

A rule names a file relative to the repository and says how to move it from the previous
feature version to the new one. Templates use `{name}` fields from a context (`{major}`,
`{minor}`, `{dotted}` = "3.16", `{nodot}` = "316", `{old_dotted}`, `{old_nodot}`, …); only
known names are substituted, so regex quantifiers such as `\\d{3,}` pass through untouched.
In regex templates (`anchor`, `present`) the values are inserted regex-escaped.

Every rule is idempotent: applied twice, the second run changes nothing and says "up to date".
A missing file is reported and skipped, never an error: the list of files drifts over the
years and a release should not stop for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .edits import EditSet
from .regex import sub_groups

_FIELD = re.compile(r"\{(\w+)\}")


def fill(template: str, context: Mapping[str, object], *, regex: bool = False) -> str:
    """Substitute the known `{name}` fields of `template` (regex-escaped when `regex`)."""
    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name not in context:
            return match[0]
        text = str(context[name])
        return re.escape(text) if regex else text
    return _FIELD.sub(value, template)


def needs(template: str, context: Mapping[str, object]) -> list[str]:
    """Fields a template uses that the context lacks (None values count as missing)."""
    missing = []
    for name in _FIELD.findall(template):
        if name.isidentifier() and name in CONTEXT_FIELDS and context.get(name) is None:
            missing.append(name)
    return missing


CONTEXT_FIELDS = frozenset({
    "major", "minor", "old_minor", "next_minor", "dotted", "old_dotted", "next_dotted", "nodot",
    "old_nodot", "magic_start", "magic_end", "next_magic_start",
})


@dataclass(frozen=True)
class ReplaceRule:
    """Rewrite named groups of every match of `pattern` whose groups equal the `old` templates."""

    path: str
    pattern: str
    new: Mapping[str, str]
    old: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    required: bool = True  # a rule that finds nothing to do and nothing done is reported

    def apply(self, edits: EditSet, context: Mapping[str, object]) -> str:
        text = edits.read(self.path)
        compiled = re.compile(self.pattern, re.MULTILINE)
        new_values = {g: fill(t, context) for g, t in self.new.items()}
        old_values = {g: fill(t, context) for g, t in self.old.items()}
        out, count = sub_groups(compiled, text, new_values, only_if=old_values)
        if count:
            edits.write(self.path, out)
            return f"{self.description or 'rewrote'}: {count} change{'s' if count != 1 else ''}"
        _, already = sub_groups(compiled, text, new_values, only_if=new_values)
        if already:
            return "up to date"
        return ""  # nothing found

    def templates(self) -> list[str]:
        return [*self.new.values(), *self.old.values()]


@dataclass(frozen=True)
class InsertLineRule:
    """Copy the last line matching `anchor`, rewrite groups of `pattern` in the copy, insert it after.

    Used for lists that gain the new version (an issue template's version dropdown, a table of
    magic-number ranges). Skipped when a line matching `present` exists already.
    """

    path: str
    anchor: str
    pattern: str
    new: Mapping[str, str]
    present: str
    description: str = ""
    required: bool = True

    def apply(self, edits: EditSet, context: Mapping[str, object]) -> str:
        text = edits.read(self.path)
        if re.search(fill(self.present, context, regex=True), text, re.MULTILINE):
            return "up to date"
        anchors = list(re.finditer(fill(self.anchor, context, regex=True), text, re.MULTILINE))
        if not anchors:
            return ""
        anchor = anchors[-1]
        line_start = text.rfind("\n", 0, anchor.start()) + 1
        line_end = text.find("\n", anchor.end())
        line_end = len(text) if line_end < 0 else line_end + 1
        line = text[line_start:line_end]
        if not line.endswith("\n"):
            line += "\n"
            text += "\n"
            line_end += 1
        copy, count = sub_groups(re.compile(self.pattern), line,
                                 {g: fill(t, context) for g, t in self.new.items()}, count=1)
        if not count:
            return ""
        edits.write(self.path, text[:line_end] + copy + text[line_end:])
        return f"{self.description or 'inserted'}: {copy.strip()}"

    def templates(self) -> list[str]:
        return [self.anchor, self.present, *self.new.values()]


@dataclass(frozen=True)
class FunctionRule:
    """A rule too structured for a regex: `func(text, context) -> (new_text, message)`."""

    path: str
    func: Callable[[str, Mapping[str, object]], tuple[str, str]]
    description: str = ""
    required: bool = True
    uses: tuple[str, ...] = ()

    def apply(self, edits: EditSet, context: Mapping[str, object]) -> str:
        text = edits.read(self.path)
        out, message = self.func(text, context)
        if out != text:
            edits.write(self.path, out)
        return message

    def templates(self) -> list[str]:
        return ["{" + name + "}" for name in self.uses]


Rule = ReplaceRule | InsertLineRule | FunctionRule


def apply_rules(edits: EditSet, rules: list[Rule] | tuple[Rule, ...], context: Mapping[str, object]) -> None:
    """Apply each rule in order, reporting missing files, missing context and rules that found nothing."""
    reported: set[str] = set()
    for rule in rules:
        if not edits.exists(rule.path):
            if rule.path not in reported:
                edits.note(rule.path, "file not found: skipped", "skipped")
                reported.add(rule.path)
            continue
        missing = sorted({name for t in rule.templates() for name in needs(t, context)})
        if missing:
            edits.note(rule.path, f"{rule.description or 'rule'}: skipped, unknown {', '.join(missing)}",
                       "skipped")
            continue
        message = rule.apply(edits, context)
        if message:
            edits.note(rule.path, message, "info")
        elif rule.required:
            edits.note(rule.path, f"{rule.description or 'rule'}: nothing matched; edit it by hand", "no-match")
