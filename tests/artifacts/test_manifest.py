"""The artifact manifest: which files each release has, and the facts attached to them."""

from __future__ import annotations

import pytest

from relman.artifacts.manifest import (CPYTHON, DEMO, PROFILES, expected_files, file_slug, get_profile,
                                       match_file, spec_for)
from relman.errors import UsageError
from relman.version import Version

VERSIONS = ["3.12.5", "3.13.0a2", "3.13.0rc1", "3.14.0b1", "3.14.0rc2", "3.14.1", "3.15.0a1", "3.15.0", "3.16.0rc1"]


def names(profile, version, security=False, producer=None):
    return [s.name for s in expected_files(profile, version, security, producer=producer)]


def test_cpython_source_names_and_labels():
    specs = {s.key: s for s in expected_files("cpython", "3.14.0rc2")}
    assert specs["source-tgz"].name == "Python-3.14.0rc2.tgz"
    assert specs["source-tgz"].label == "Gzipped source tarball"
    assert specs["source-tar.xz"].label == "XZ compressed source tarball"
    assert specs["source-tar.xz"].download_button and not specs["source-tgz"].download_button
    assert specs["windows-amd64-exe"].description == "Recommended"
    assert specs["windows-manifest"].description == "Install with 'py install 3.14'"


@pytest.mark.parametrize("version", VERSIONS)
def test_docs_only_for_rc_and_final(version):
    v = Version.parse(version)
    docs = names("cpython", v, producer="docs")
    assert bool(docs) == v.includes_docs
    assert bool(names("demo", v, producer="docs")) == v.includes_docs


@pytest.mark.parametrize("version", VERSIONS)
def test_platform_hand_offs_follow_the_version(version):
    v = Version.parse(version)
    platforms = {s.platform for s in expected_files("cpython", v, producer="platform:*")}
    assert ("android" in platforms) == v.at_least(3, 14)
    assert ("ios" in platforms) == v.at_least(3, 15)
    assert {"windows", "macos"} <= platforms


def test_security_release_has_no_installers():
    regular = {s.os for s in expected_files("cpython", "3.13.9")}
    security = {s.os for s in expected_files("cpython", "3.13.9", security=True)}
    assert {"windows", "macos"} <= regular
    assert not {"windows", "macos"} & security
    assert "source" in security


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("security", [False, True])
def test_at_most_one_download_button_per_os_and_unique_names(version, security):
    specs = expected_files("cpython", version, security)
    buttons = [s.os for s in specs if s.download_button]
    assert len(buttons) == len(set(buttons))
    all_names = [n for s in specs for n in (s.name, *s.sidecars)]
    assert len(all_names) == len(set(all_names))


def test_signature_sidecars_follow_pep_761():
    old = spec_for("cpython", "3.13.1", "source-tar.xz")
    new = spec_for("cpython", "3.14.0", "source-tar.xz")
    assert old.sidecar("gpg") == "Python-3.13.1.tar.xz.asc"
    assert new.sidecar("gpg") is None
    assert new.sidecar("sigstore") == "Python-3.14.0.tar.xz.sigstore"
    assert new.sidecar("sbom") == "Python-3.14.0.tar.xz.spdx.json"


def test_macos_description_depends_on_version():
    assert spec_for("cpython", "3.13.2", "macos-pkg").description == "for macOS 10.13 and later"
    assert spec_for("cpython", "3.14.0", "macos-pkg").description == "for macOS 10.15 and later"


def test_demo_profile_is_what_the_sample_produces():
    assert names("demo", "3.14.0rc1") == [
        "Python-3.14.0rc1.tgz", "Python-3.14.0rc1.tar.xz", "python-3.14.0rc1-docs-html.zip",
        "python-3.14.0rc1-docs-html.tar.bz2", "python-3.14.0rc1-docs-text.tar.bz2", "python-3.14.0rc1-amd64.exe",
        "python-3.14.0rc1-macos11.pkg", "SHA256SUMS", "3.14.0rc1.manifest.json"]
    assert names("demo", "3.14.0b2") == ["Python-3.14.0b2.tgz", "Python-3.14.0b2.tar.xz", "python-3.14.0b2-amd64.exe",
                                         "python-3.14.0b2-macos11.pkg", "SHA256SUMS", "3.14.0b2.manifest.json"]


def test_match_file_and_slug():
    spec = match_file("cpython", "3.14.0rc2", "python-3.14.0rc2-amd64.exe")
    assert spec is not None and spec.label == "Windows installer (64-bit)"
    assert match_file("cpython", "3.14.0rc2", "python-3.14.0rc1-amd64.exe") is None
    assert file_slug("3.14.0rc2", spec.label) == "3140-rc2-Windows-installer-64-bit"
    assert file_slug("3.12.15", "XZ compressed source tarball") == "31215-XZ-compressed-source-tarball"


def test_unknown_profile_and_key_are_usage_errors():
    with pytest.raises(UsageError, match="unknown artifact profile"):
        get_profile("nope")
    with pytest.raises(UsageError, match="no artifact"):
        spec_for("cpython", "3.13.0", "ios-xcframework")
    assert PROFILES == {"cpython": CPYTHON, "demo": DEMO}
