"""CPython's SBOM and export rules on a tree in CPython's shape: a bundled pip wheel, Misc/sbom.spdx.json,
and the folders release-tools removes from the tarball (.azure-pipelines, Misc/mypy with its symlinks, …)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest

from relman.artifacts.archive import build_source_archives, read_archive_members
from relman.artifacts.build import write_sboms
from relman.artifacts.manifest import expected_files
from relman.artifacts.sbom import sbom_for_archive, validate_sbom
from relman.errors import CheckFailed

from .conftest import EXPAT_COPYING, fake_news, make_repo, sample_files

WHEEL = "Lib/ensurepip/_bundled/pip-25.2-py3-none-any.whl"
# The shape of pip's vendor.txt: NAME==VERSION pins, comments after `#`.
VENDOR_TXT = """CacheControl==0.14.3  # Make sure to update the license in pyproject.toml for this.
distlib==0.4.0
msgpack==1.1.1
packaging==25.0
platformdirs==4.3.8
requests==2.32.4
    certifi==2025.7.14
    urllib3==1.26.20
# a comment line
truststore==0.10.1
"""


def pip_wheel(vendor: str = VENDOR_TXT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in (("pip/__init__.py", '__version__ = "25.2"\n'), ("pip/_vendor/vendor.txt", vendor),
                           ("pip-25.2.dist-info/METADATA", "Metadata-Version: 2.4\nName: pip\nVersion: 25.2\n")):
            archive.writestr(zipfile.ZipInfo(name, date_time=(2025, 7, 30, 0, 0, 0)), text)
    return buffer.getvalue()


def cpython_files(*, wheel: bytes | None = None, partial: dict | None = None) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = dict(sample_files())
    files[WHEEL] = wheel if wheel is not None else pip_wheel()
    files[".azure-pipelines/ci.yml"] = "trigger: none\n"
    files[".hgtags"] = "0000 v0.9\n"
    files[".travis.yml"] = "language: c\n"
    files["Doc/tools/sphinx/README"] = "old vendored sphinx\n"
    files["Doc/tools/extensions/pyspecific.py"] = "# kept\n"
    if partial is not None:
        files["Misc/sbom.spdx.json"] = json.dumps(partial)
    return files


def build(tmp_path, files, **kw):
    repo = make_repo(tmp_path / "repo", files, symlinks={"Misc/mypy/_pyrepl": "../../Lib/_pyrepl"}, **kw)
    return build_source_archives(repo, "3.14.0rc1", tmp_path / "out", profile="cpython", generate=fake_news,
                                 symlinks="drop")


def sboms(tmp_path, built) -> dict:
    specs = expected_files("cpython", "3.14.0rc1", producer="source")
    written = write_sboms(built, tmp_path / "out", profile="cpython", specs=specs, validate=True)
    return json.loads(written[-1].path.read_bytes())


def by_name(doc: dict) -> dict[str, dict]:
    return {p["name"]: p for p in doc["packages"]}


def relations(doc: dict) -> set[tuple[str, str, str]]:
    return {(r["spdxElementId"], r["relationshipType"], r["relatedSpdxElement"]) for r in doc["relationships"]}


def test_the_pip_wheel_is_its_own_package(tmp_path):
    built = build(tmp_path, cpython_files())
    doc = sboms(tmp_path, built)
    assert validate_sbom(doc) == []                      # spdx-tools, full SPDX 2.3 validation
    packages = by_name(doc)
    cpython, pip = packages["CPython"], packages["pip"]
    assert cpython["licenseConcluded"] == "PSF-2.0" and cpython["supplier"] == "Organization: Python Software Foundation"
    assert cpython["downloadLocation"] == "https://www.python.org/ftp/python/3.14.0/Python-3.14.0rc1.tar.xz"
    wheel_sha256 = hashlib.sha256(pip_wheel()).hexdigest()
    assert pip["versionInfo"] == "25.2" and pip["checksums"] == [{"algorithm": "SHA256", "checksumValue": wheel_sha256}]
    assert {"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
            "referenceLocator": "pkg:pypi/pip@25.2"} in pip["externalRefs"]
    assert {"referenceCategory": "SECURITY", "referenceType": "cpe23Type",
            "referenceLocator": "cpe:2.3:a:pypa:pip:25.2:*:*:*:*:*:*:*"} in pip["externalRefs"]
    assert pip["originator"] == "Organization: Python Packaging Authority"
    rels = relations(doc)
    wheel_file = next(f for f in doc["files"] if f["fileName"] == WHEEL)
    assert (pip["SPDXID"], "CONTAINS", wheel_file["SPDXID"]) in rels
    assert (cpython["SPDXID"], "CONTAINS", wheel_file["SPDXID"]) not in rels
    assert (cpython["SPDXID"], "DEPENDS_ON", pip["SPDXID"]) in rels
    # pip's vendored projects, from vendor.txt inside the wheel
    for name, version in (("cachecontrol", "0.14.3"), ("urllib3", "1.26.20"), ("truststore", "0.10.1")):
        vendored = packages[name]
        assert vendored["versionInfo"] == version
        assert vendored["externalRefs"][0]["referenceLocator"] == f"pkg:pypi/{name}@{version}"
        assert (pip["SPDXID"], "DEPENDS_ON", vendored["SPDXID"]) in rels
    assert len([p for p in packages if p not in ("CPython", "pip", "expat")]) == 9
    # pip's verification code is over the one file it contains
    sha1 = hashlib.sha1(pip_wheel()).hexdigest()
    expected_code = hashlib.sha1(sha1.encode()).hexdigest()
    assert pip["packageVerificationCode"]["packageVerificationCodeValue"] == expected_code
    # the same document from the archive on disk
    again = sbom_for_archive(built.files[-1].path, profile="cpython", version="3.14.0rc1",
                             created_epoch=built.source_date_epoch)
    assert again == doc


def test_a_partial_sbom_describing_pip_is_kept_after_checking_it(tmp_path):
    wheel = pip_wheel()
    partial = json.loads(sample_files()["Misc/sbom.spdx.json"])
    partial["packages"].append({
        "SPDXID": "SPDXRef-PACKAGE-pip", "name": "pip", "versionInfo": "25.2",
        "downloadLocation": "https://files.pythonhosted.org/packages/b7/3f/pip-25.2-py3-none-any.whl",
        "checksums": [{"algorithm": "SHA256", "checksumValue": hashlib.sha256(wheel).hexdigest()}],
        "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceType": "purl",
                          "referenceLocator": "pkg:pypi/pip@25.2"}],
        "licenseConcluded": "NOASSERTION", "originator": "Organization: Python Packaging Authority",
        "primaryPackagePurpose": "SOURCE"})
    doc = sboms(tmp_path, build(tmp_path, cpython_files(wheel=wheel, partial=partial)))
    pip = by_name(doc)["pip"]
    assert pip["downloadLocation"].startswith("https://files.pythonhosted.org/")
    assert "cachecontrol" not in by_name(doc)  # the partial SBOM's description is the one kept

    stale = json.loads(json.dumps(partial))
    stale["packages"][-1]["versionInfo"] = "25.1"
    built = build(tmp_path / "stale", cpython_files(wheel=wheel, partial=stale))
    with pytest.raises(CheckFailed, match="describes pip 25.1") as raised:
        sboms(tmp_path / "stale", built)
    assert "make regen-sbom" in raised.value.hint


def test_missing_partial_sbom_stops_the_cpython_build(tmp_path):
    files = cpython_files()
    del files["Misc/sbom.spdx.json"]
    built = build(tmp_path, files)
    with pytest.raises(CheckFailed, match="Misc/sbom.spdx.json is missing") as raised:
        sboms(tmp_path, built)
    assert "release-tools refuses" in raised.value.hint
    with pytest.raises(CheckFailed, match="Misc/sbom.spdx.json is missing"):
        sbom_for_archive(built.files[0].path, profile="cpython", version="3.14.0rc1",
                         created_epoch=built.source_date_epoch)


def test_a_missing_pip_wheel_stops_the_cpython_build(tmp_path):
    files = cpython_files()
    del files[WHEEL]
    with pytest.raises(CheckFailed, match="exactly one wheel matching Lib/ensurepip/_bundled/pip-"):
        sboms(tmp_path, build(tmp_path, files))


def test_cpython_export_rules_as_release_tools_applies_them(tmp_path):
    built = build(tmp_path, cpython_files())
    names = set(read_archive_members(built.files[0].path))
    for gone in (".azure-pipelines/ci.yml", ".hgtags", ".travis.yml", "Doc/tools/sphinx/README", ".gitignore",
                 ".gitattributes", ".github/workflows/ci.yml", "Lib/stale.pyc", "Lib/__pycache__/os.cpython-314.pyc"):
        assert gone not in names, gone
    assert not any(n.startswith(("Misc/mypy/", "Misc/NEWS.d/")) for n in names)
    assert {"Doc/tools/extensions/pyspecific.py", "Misc/NEWS", "Misc/sbom.spdx.json", WHEEL,
            "Modules/expat/COPYING"} <= names
    assert {".azure-pipelines", "Misc/mypy", ".hgtags"} <= {p.split("/")[0] if p.startswith(".") else
                                                          "/".join(p.split("/")[:2]) for p in built.removed}
    assert EXPAT_COPYING  # the partial SBOM's file is shipped unchanged (its SHA-256 is checked above)
