"""Fuzzing the parsers with hypothesis: whatever the input, a parser returns a value or raises
its own documented error (a RelmanError, with a message) — never anything else.

The corpus (test_corpus.py) pins chosen bad inputs to their exact messages; this explores the
space around them."""

from __future__ import annotations

import json
import string
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relman.errors import RelmanError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Text that looks like the thing being parsed often enough to get past the first check.
VERSIONISH = st.lists(st.sampled_from(["3", "14", "0", ".", "a", "b", "rc", "c", "1", "v", "-", "+", "post", "dev",
                                       " ", "\uff13", "0", "99", "alpha", "!", "\n"]), max_size=12).map("".join)
JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                       max_leaves=20)


@FUZZ
@given(st.one_of(VERSIONISH, st.text(max_size=30)))
def test_version_parse_returns_a_version_or_a_version_error(text):
    from relman.version import Version

    try:
        version = Version.parse(text)
    except RelmanError as error:
        assert str(error)
        return
    # What parses must print back to itself and parse again to the same version.
    assert Version.parse(str(version)) == version


NEWS_TEXT = st.lists(st.sampled_from([".. gh-issue: 135000\n", ".. section: Library\n", ".. bpo: 12\n", "..\n",
                                      ".. cve: CVE-2025-1234\n", ".. nonce: AbCd\n", ".. date: 2025-01-01\n",
                                      ".. release date: 2025-01-01\n", "\n", "Text of an entry.\n", "* item\n",
                                      "  indented\n", "::\n", "\t", "\xa0", "#\n", ".. no changes: True\n",
                                      ".. section: Nope\n", ".. : x\n"]), max_size=25).map("".join)


@FUZZ
@given(st.one_of(NEWS_TEXT, st.text(max_size=200)))
def test_news_parse_returns_entries_or_problems(text):
    from relman.news.fragments import parse_entries

    try:
        result = parse_entries(text, "Misc/NEWS.d/3.14.0b1.rst")
    except RelmanError as error:
        assert str(error)
        return
    assert result is not None


@FUZZ
@given(st.text(alphabet=string.ascii_letters + string.digits + "-._", max_size=60))
def test_fragment_names_parse_or_say_why(name):
    from relman.news.fragments import parse_fragment_name

    result = parse_fragment_name(name + ".rst")   # problems are returned, never raised
    assert all(isinstance(problem, str) and problem for problem in result.problems)


@FUZZ
@given(st.text(max_size=300))
def test_sha256sums_parse_returns_digests_or_names_the_line(text):
    from relman.artifacts.checksums import parse_sha256sums

    try:
        digests = parse_sha256sums(text)
    except RelmanError as error:
        assert "SHA256SUMS:" in str(error)
        return
    assert all(len(d) == 64 for d in digests.values())


@FUZZ
@given(JSONISH)
def test_release_manifest_load_returns_a_manifest_or_a_check_failure(document):
    from relman.artifacts.release_manifest import load_release_manifest

    try:
        load_release_manifest(json.dumps(document).encode(), where="fuzz.manifest.json")
    except RelmanError as error:
        assert str(error)


@FUZZ
@given(st.dictionaries(st.sampled_from(["profile", "project", "git", "remotes", "build", "signing", "gates", "news",
                                        "readiness", "secrets", "tools", "package", "version_files", "unknown"]),
                       JSONISH, max_size=5))
def test_configuration_is_settings_or_a_config_error(data):
    import tomllib

    import tomlkit

    from relman.config import load_settings

    try:
        text = tomlkit.dumps(data)
        tomllib.loads(text)
    except Exception:  # noqa: BLE001 - not every JSON value is a TOML document: not our input
        return
    repo = Path(_tmp()) / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "relman.toml").write_text(text)
    try:
        load_settings(repo)
    except RelmanError as error:
        assert "relman.toml" in str(error)


@FUZZ
@given(JSONISH)
def test_schedule_json_is_a_cycle_or_a_clear_error(document):
    from relman.schedule.cycle import parse_cycle

    try:
        parse_cycle(json.dumps(document), "fuzz/release-cycle.json")
    except RelmanError as error:
        assert str(error)


@FUZZ
@given(JSONISH)
def test_buildbot_answers_become_objects_or_a_clear_error(document):
    import asyncio

    import httpx

    from relman.ci.buildbot import BuildbotClient

    body = json.dumps({"builders": document} if not isinstance(document, dict) else document).encode()

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    async def go():
        async with BuildbotClient("http://buildbot.invalid/", transport=httpx.MockTransport(answer), retries=0) as bb:
            return await bb.builders()

    try:
        asyncio.run(go())
    except RelmanError as error:
        assert str(error)


_TMP: list[str] = []


def _tmp() -> str:
    if not _TMP:
        import tempfile

        _TMP.append(tempfile.mkdtemp(prefix="relman-fuzz-"))
    return _TMP[0]
