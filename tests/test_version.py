"""The version model: parsing, ordering, derived facts, transitions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relman.errors import VersionError
from relman.version import Version, check_transition, valid_next_versions, versions_from_tags

levels = st.sampled_from(["a", "b", "rc", "f"])


@st.composite
def versions(draw):
    level = draw(levels)
    serial = 0 if level == "f" else draw(st.integers(min_value=1, max_value=30))
    return Version(draw(st.integers(0, 5)), draw(st.integers(0, 30)), draw(st.integers(0, 30)), level, serial)


@given(versions())
def test_text_round_trips(v):
    assert Version.parse(v.text) == v
    assert Version.parse(str(v.pep440)) == v


@given(versions(), versions())
def test_order_agrees_with_pep440(a, b):
    assert (a < b) == (a.pep440 < b.pep440)
    assert (a == b) == (a.pep440 == b.pep440)


@given(versions())
def test_successors_are_later_and_in_the_same_series(v):
    for nxt in v.successors():
        assert nxt > v
        assert (nxt.major, nxt.minor) == (v.major, v.minor)


@given(st.text(max_size=12))
def test_parse_never_crashes(text):
    try:
        Version.parse(text)
    except VersionError:
        pass


@pytest.mark.parametrize("spelling, canonical", [
    ("3.14", None), ("3.14.0RC2", "3.14.0rc2"), ("v3.14.0rc2", "3.14.0rc2"), ("3.14.0-rc.2", "3.14.0rc2"),
    ("3.14.0c1", "3.14.0rc1"), ("3.14.0alpha1", "3.14.0a1"), ("\uff13.\uff11\uff14.\uff10", "3.14.0"),
    ("3.014.0", "3.14.0"),
])
def test_refuses_other_spellings_and_names_the_canonical_one(spelling, canonical):
    """CPython's tools accept X.Y.Z[aN|bN|rcN] only: a release tool must not guess (3.14 is which release?)."""
    with pytest.raises(VersionError) as info:
        Version.parse(spelling)
    assert info.value.exit_code == 2
    if canonical:
        assert canonical in (info.value.hint or ""), info.value.hint
    else:
        assert "3.14.0rc1" in (info.value.hint or "") and "which release" in info.value.hint


def test_canonical_spellings_parse_and_surrounding_space_is_ignored():
    assert Version.parse(" 3.13.5 ").text == "3.13.5"
    assert Version.parse("3.14.0rc2") == Version(3, 14, 0, "rc", 2)


def test_version_command_refuses_a_guess_with_exit_2():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "relman.cli.main", "version", "3.14.0c1"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "did you mean 3.14.0rc1" in proc.stderr and "Traceback" not in proc.stderr


def test_labels_from_other_tools_are_read_leniently():
    assert Version.from_label("3.14") == Version(3, 14, 0)
    assert Version.from_label("3.14.0c1") == Version(3, 14, 0, "rc", 1)
    assert Version.from_label("soon") is None


@pytest.mark.parametrize("bad", ["", "3", "3.14.0.1", "3.14.0rc", "3.14.0b0", "3.14.0.post1", "3.14.0.dev1",
                                 "3.14.0+local", "three", "3.14.0rc1x"])
def test_rejects_non_release_versions(bad):
    with pytest.raises(VersionError):
        Version.parse(bad)


@pytest.mark.parametrize("text, branch, freeze, docs, doc_version, long_name, suffix", [
    ("3.14.0a3", "main", False, False, "3.14", "3.14.0 alpha 3", "+"),
    ("3.14.0b1", "main", True, False, "3.14", "3.14.0 beta 1", "+"),
    ("3.14.0b2", "3.14", False, False, "3.14", "3.14.0 beta 2", "+"),
    ("3.14.0rc2", "3.14", False, True, "3.14", "3.14.0 release candidate 2", "+"),
    ("3.14.0", "3.14", False, True, "3.14", "3.14.0", "+"),
    ("3.14.3", "3.14", False, True, "3.14.3", "3.14.3", "+"),
    ("3.15.0a1", "main", False, False, "3.15", "3.15.0 alpha 1", "+dev"),
])
def test_derived_facts(text, branch, freeze, docs, doc_version, long_name, suffix):
    v = Version.parse(text)
    assert (v.branch, v.is_feature_freeze, v.includes_docs, v.doc_version, v.long_name, v.post_release_suffix) == \
        (branch, freeze, docs, doc_version, long_name, suffix)
    assert v.git_tag == "v" + text
    assert v.nickname == text.replace(".", "")
    assert v.next_minor == Version(v.major, v.minor + 1, 0, "a", 0)


def test_security_release_comes_from_schedule_data():
    cycle = {"3.12": {"status": "security"}, "3.14": {"status": "bugfix"}}
    assert Version.parse("3.12.9").is_security_release(cycle)
    assert not Version.parse("3.14.2").is_security_release(cycle)
    assert not Version.parse("3.99.0").is_security_release(cycle)


TAGS = ["v3.13.0", "v3.13.1", "v3.14.0a1", "v3.14.0b1", "v3.14.0rc1", "not-a-version", "v3.14.0rc1x"]


@pytest.mark.parametrize("candidate, ok", [
    ("3.14.0rc2", True), ("3.14.0", True), ("3.14.0b1", False), ("3.14.0b2", False), ("3.14.0rc3", False),
    ("3.14.0rc1", False), ("3.14.1", False), ("3.13.2", True), ("3.13.3", False), ("3.15.0a1", True),
    ("3.15.0b1", False), ("3.14.0a0", False),
])
def test_transitions(candidate, ok):
    if ok:
        check_transition(Version.parse(candidate), TAGS)
    else:
        with pytest.raises(VersionError):
            check_transition(Version.parse(candidate), TAGS)


def test_transition_error_names_latest_and_valid_next():
    with pytest.raises(VersionError) as info:
        check_transition(Version.parse("3.14.0b2"), TAGS)
    text = str(info.value)
    assert "3.14.0rc1" in text and "3.14.0rc2" in text and "3.14.0" in text


def test_versions_from_tags_ignores_other_tags():
    assert [v.text for v in versions_from_tags(TAGS)] == ["3.13.0", "3.13.1", "3.14.0a1", "3.14.0b1", "3.14.0rc1"]
    assert Version.parse("3.15.0a1") in valid_next_versions(versions_from_tags(TAGS))


def test_cli_json_and_bad_input():
    ok = subprocess.run([sys.executable, "-m", "relman.cli.main", "version", "3.14.0rc2", "--json"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["long_name"] == "3.14.0 release candidate 2"
    bad = subprocess.run([sys.executable, "-m", "relman.cli.main", "version", "3.14.0x"], capture_output=True,
                         text=True)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "not a release version" in bad.stderr
