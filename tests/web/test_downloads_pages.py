"""The download pages, the /ftp/python/ tree (no way out of it) and the feed."""

from __future__ import annotations

import os

import pytest

from .downloads_helpers import AUTH, client_for, file_body, make_site, seed

API = "/api/v1/downloads/"


def test_overview_shows_latest_per_series_and_prereleases_apart(tmp_path):
    client = client_for(make_site(tmp_path))
    for name, slug in (("Python 3.13.0", "python-3130"), ("Python 3.13.2", "python-3132"),
                       ("Python 3.13.1", "python-3131"), ("Python 3.14.0rc1", "python-3140rc1"),
                       ("Python 3.12.9", "python-3129"), ("Python 3.12.10rc1", "python-31210rc1")):
        seed(client, published=True, name=name, slug=slug)
    page = client.get("/downloads/").text
    finals, _, pres = page.partition("Pre-releases")
    assert "Python 3.13.2" in finals and "Python 3.12.9" in finals
    assert "Python 3.13.1" not in page and "Python 3.13.0" not in page
    assert finals.index("Python 3.13.2") < finals.index("Python 3.12.9")      # newest series first
    assert "Python 3.14.0rc1" in pres and "Python 3.14.0rc1" not in finals
    assert "Python 3.12.10rc1" in pres     # newer than its series' final


def test_release_page_groups_files_and_highlights_the_button(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client, published=True)
    base = "https://downloads.example.org/ftp/python/3.14.0/"
    tarball = base + "Python-3.14.0rc1.tar.xz"
    client.post(API + "release_file/", headers=AUTH, json=file_body(
        uris, "XZ compressed source tarball", tarball, button=True, gpg_signature_file=tarball + ".asc",
        sigstore_bundle_file=tarball + ".sigstore", sbom_spdx2_file=tarball + ".spdx.json", filesize=23_000_000))
    client.post(API + "release_file/", headers=AUTH, json=file_body(
        uris, "Windows installer", base + "python-3.14.0rc1-amd64.exe", os_slug="windows",
        description="Recommended"))
    html = client.get("/downloads/release/python-3140rc1/").text
    assert html.index("Source release") < html.index("Windows")
    assert 'class="download-button"' in html and 'class="button primary" href="' + tarball in html
    for link in (tarball + ".asc", tarball + ".sigstore", tarball + ".spdx.json"):
        assert f'href="{link}"' in html
    assert "ab" * 32 in html and "21.9 MiB" in html and "Recommended" in html
    assert html.count('class="download-button"') == 1
    assert client.get("/downloads/release/nope/").status_code == 404


def _tree(tmp_path):
    folder = tmp_path / "ftp" / "3.14.0"
    folder.mkdir(parents=True)
    (folder / "Python-3.14.0.tar.xz").write_bytes(bytes(range(256)) * 40)
    (folder / "SHA256SUMS").write_text("x  y\n")
    (tmp_path / "secret.txt").write_text("outside the tree")
    (tmp_path / "ftp" / ".relman-staging").mkdir()
    (tmp_path / "ftp" / ".relman-staging" / "half.tgz").write_text("partial")
    return folder


def test_ftp_serves_files_with_types_and_ranges(tmp_path):
    folder = _tree(tmp_path)
    client = client_for(make_site(tmp_path))
    listing = client.get("/ftp/python/3.14.0/")
    assert listing.status_code == 200 and 'href="Python-3.14.0.tar.xz"' in listing.text
    assert ".relman-staging" not in client.get("/ftp/python/").text
    assert client.get("/ftp/python/3.14.0", follow_redirects=False).status_code in (301, 307)
    full = client.get("/ftp/python/3.14.0/Python-3.14.0.tar.xz")
    assert full.content == (folder / "Python-3.14.0.tar.xz").read_bytes()
    assert full.headers["content-type"] == "application/x-xz"
    assert client.get("/ftp/python/3.14.0/SHA256SUMS").headers["content-type"].startswith("text/plain")
    part = client.get("/ftp/python/3.14.0/Python-3.14.0.tar.xz", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == bytes(range(100, 200))


@pytest.mark.parametrize("path", [
    "/ftp/python/../secret.txt", "/ftp/python/%2e%2e/secret.txt", "/ftp/python/3.14.0/%2e%2e/%2e%2e/secret.txt",
    "/ftp/python/..%2fsecret.txt", "/ftp/python/3.14.0/..%5c..%5csecret.txt", "/ftp/python//etc/passwd",
    "/ftp/python/%2fetc%2fpasswd", "/ftp/python/.relman-staging/half.tgz", "/ftp/python/3.14.0/%00",
    "/ftp/python/escape/secret.txt", "/ftp/python/link-out",
])
def test_ftp_path_traversal_is_refused(tmp_path, path):
    _tree(tmp_path)
    os.symlink(tmp_path, tmp_path / "ftp" / "escape")              # a symlink pointing out of the tree
    os.symlink(tmp_path / "secret.txt", tmp_path / "ftp" / "link-out")
    client = client_for(make_site(tmp_path))
    response = client.get(path)
    assert response.status_code in (404, 400), path
    assert "outside the tree" not in response.text and "root:" not in response.text


def test_anonymous_pages_are_cached_until_the_store_changes(tmp_path):
    """A page view is answered from rendered bytes; the next registration or publish shows at once."""
    client = client_for(make_site(tmp_path))
    uris = seed(client, published=True)
    first = client.get("/downloads/release/python-3140rc1/")
    assert first.status_code == 200 and first.headers.get("x-cache") == "miss"
    again = client.get("/downloads/release/python-3140rc1/")
    assert again.headers.get("x-cache") == "hit" and again.text == first.text
    # a reader that has these bytes gets a 304 (the ETag is the page's)
    unchanged = client.get("/downloads/release/python-3140rc1/", headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304 and unchanged.content == b""
    created = client.post("/api/v1/downloads/release_file/", headers=AUTH,
                          json=file_body(uris, "Cached check", "https://example.org/ftp/python/3.14.0/late.tgz"))
    assert created.status_code == 201
    after = client.get("/downloads/release/python-3140rc1/", headers={"If-None-Match": first.headers["etag"]})
    assert after.status_code == 200 and after.headers.get("x-cache") == "miss" and "Cached check" in after.text
    # an authenticated reader is never served an anonymous page (and sees unpublished releases)
    assert "x-cache" not in client.get("/downloads/release/python-3140rc1/", headers=AUTH).headers
