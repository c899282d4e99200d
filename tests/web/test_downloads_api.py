"""The v1 downloads API: python.org's envelope, filters, auth, status codes and rules."""

from __future__ import annotations

from .downloads_helpers import AUTH, client_for, file_body, make_site, seed

API = "/api/v1/downloads/"
URL = "https://downloads.example.org/ftp/python/3.14.0/"


def test_writes_need_a_valid_api_key(tmp_path):
    client = client_for(make_site(tmp_path))
    body = {"name": "Source release", "slug": "source"}
    assert client.post(API + "os/", json=body).status_code == 401
    assert client.post(API + "os/", json=body, headers={"Authorization": "ApiKey rm:wrong"}).status_code == 401
    # credentials in the query string are refused even when right
    assert client.post(API + "os/?username=rm&api_key=s3cret-key", json=body).status_code == 401
    created = client.post(API + "os/", json=body, headers=AUTH)
    assert created.status_code == 201
    assert created.headers["location"].endswith("/api/v1/downloads/os/1/")
    assert client.delete(API + "os/1/").status_code == 401
    assert client.get(API + "os/1/").json()["slug"] == "source"      # reading needs no key
    assert client.delete(API + "os/1/", headers=AUTH).status_code == 204
    assert client.get(API + "os/1/").status_code == 404


def test_envelope_paging_and_filters(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client, published=True)
    for i in range(25):
        body = file_body(uris, f"File {i}", f"{URL}f{i}.tgz", description="embeddable" if i % 5 == 0 else "")
        assert client.post(API + "release_file/", json=body, headers=AUTH).status_code == 201
    page = client.get(API + "release_file/").json()
    assert set(page) == {"meta", "objects"}
    assert page["meta"]["limit"] == 20 and page["meta"]["offset"] == 0 and page["meta"]["total_count"] == 25
    assert page["meta"]["previous"] is None and "offset=20" in page["meta"]["next"]
    assert len(page["objects"]) == 20
    second = client.get(page["meta"]["next"]).json()
    assert len(second["objects"]) == 5 and second["meta"]["next"] is None and second["meta"]["previous"]
    obj = page["objects"][0]
    assert obj["os"] == uris["source"] and obj["release"] == uris["release"]
    assert obj["resource_uri"].startswith(API + "release_file/")
    assert set(obj) >= {"name", "slug", "url", "sha256_sum", "filesize", "download_button", "gpg_signature_file",
                        "sigstore_bundle_file", "sbom_spdx2_file", "is_source", "description"}
    # filters: exact slug, description__contains, release by pk and by URI, os by slug through the relation
    assert client.get(API + "release_file/", params={"slug": "3140-rc1-File-3"}).json()["meta"]["total_count"] == 1
    assert client.get(API + "release_file/", params={"description__contains": "embed"}).json()["meta"]["total_count"] == 5
    assert client.get(API + "release_file/", params={"release": 1, "limit": 0}).json()["meta"]["total_count"] == 25
    assert client.get(API + "release_file/", params={"release": uris["release"]}).json()["meta"]["total_count"] == 25
    assert client.get(API + "release_file/", params={"os__slug": "windows"}).json()["meta"]["total_count"] == 0
    assert client.get(API + "release/", params={"name": "Python 3.14.0rc1"}).json()["meta"]["total_count"] == 1
    assert client.get(API + "release/", params={"version__startswith": "3"}).json()["meta"]["total_count"] == 1
    assert client.get(API + "release/", params={"release_date__gte": "2027-01-01"}).json()["meta"]["total_count"] == 0
    assert client.get(API + "release/", params={"pre_release": "false"}).json()["meta"]["total_count"] == 0
    assert client.get(API + "release/", params={"content": "x"}).status_code == 400   # not a filter


def test_one_download_button_per_os_per_release(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client)
    first = file_body(uris, "XZ tarball", URL + "Python-3.14.0rc1.tar.xz", button=True)
    assert client.post(API + "release_file/", json=first, headers=AUTH).status_code == 201
    second = file_body(uris, "Gzip tarball", URL + "Python-3.14.0rc1.tgz", button=True)
    refused = client.post(API + "release_file/", json=second, headers=AUTH)
    assert refused.status_code == 400
    assert "download_button" in refused.json()["downloads/release_file"]
    # another OS may have its own button; moving the button works once the first lets go
    windows = file_body(uris, "Windows installer", URL + "python-3.14.0rc1-amd64.exe", os_slug="windows", button=True)
    assert client.post(API + "release_file/", json=windows, headers=AUTH).status_code == 201
    assert client.patch(API + "release_file/1/", json={"download_button": False}, headers=AUTH).status_code == 200
    assert client.post(API + "release_file/", json=second, headers=AUTH).status_code == 201


def test_sidecar_urls_must_be_the_file_url_plus_suffix(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client)
    url = URL + "Python-3.14.0rc1.tgz"
    good = file_body(uris, "Gzip", url, gpg_signature_file=url + ".asc", sigstore_bundle_file=url + ".sigstore",
                     sbom_spdx2_file=url + ".spdx.json", sigstore_signature_file=url + ".sig",
                     sigstore_cert_file=url + ".crt")
    assert client.post(API + "release_file/", json=good, headers=AUTH).status_code == 201
    for field, wrong in (("gpg_signature_file", url + ".sig"), ("sbom_spdx2_file", URL + "other.tgz.spdx.json"),
                         ("sigstore_bundle_file", url + ".sigstore.json")):
        body = file_body(uris, "Other", URL + "b.tgz", **{field: wrong})
        response = client.post(API + "release_file/", json=body, headers=AUTH)
        assert response.status_code == 400
        assert field in response.json()["downloads/release_file"], response.json()


def test_validation_errors_are_json_per_field(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client)
    body = file_body(uris, "Bad", "not a url", sha256_sum="xyz")
    body.pop("slug")
    errors = client.post(API + "release_file/", json=body, headers=AUTH).json()["downloads/release_file"]
    assert {"url", "sha256_sum", "slug"} <= set(errors)
    assert client.post(API + "release_file/", content=b"{nope", headers=AUTH).status_code == 400
    unknown = file_body(uris, "X", URL + "x.tgz")
    unknown["os"] = "/api/v1/downloads/os/99/"
    assert "os" in client.post(API + "release_file/", json=unknown, headers=AUTH).json()["downloads/release_file"]


def test_bulk_delete_needs_exactly_one_release(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client)
    for i in range(3):
        client.post(API + "release_file/", json=file_body(uris, f"F{i}", f"{URL}{i}.tgz"), headers=AUTH)
    assert client.delete(API + "release_file/", headers=AUTH).status_code == 400
    assert client.delete(API + "release_file/?release=1&os=1", headers=AUTH).status_code == 400
    assert client.delete(API + "release_file/?release=1").status_code == 401
    assert client.delete(API + "release_file/?release=1", headers=AUTH).status_code == 204
    assert client.get(API + "release_file/", headers=AUTH).json()["meta"]["total_count"] == 0


def test_unpublished_releases_are_invisible_to_anonymous_readers(tmp_path):
    client = client_for(make_site(tmp_path))
    uris = seed(client, published=False)
    client.post(API + "release_file/", json=file_body(uris, "Gzip", URL + "a.tgz"), headers=AUTH)
    assert client.get(API + "release/").json()["meta"]["total_count"] == 0
    assert client.get(API + "release/", params={"is_published": "false"}).json()["objects"] == []
    assert client.get(uris["release"]).status_code == 401
    assert client.get(API + "release_file/").json()["meta"]["total_count"] == 0
    assert client.get(API + "release_file/1/").status_code == 401
    assert client.get("/downloads/release/python-3140rc1/").status_code == 404
    assert "3.14.0rc1" not in client.get("/downloads/").text
    assert "3.14.0rc1" not in client.get("/downloads/feed.atom").text
    # the release manager sees it
    assert client.get(API + "release/", headers=AUTH).json()["meta"]["total_count"] == 1
    assert client.get("/downloads/release/python-3140rc1/", headers=AUTH).status_code == 200
    # published: everyone does
    assert client.patch(uris["release"], json={"is_published": True}, headers=AUTH).status_code == 200
    assert client.get(uris["release"]).json()["is_published"] is True
    assert client.get(API + "release_file/").json()["meta"]["total_count"] == 1
    assert "Python 3.14.0rc1" in client.get("/downloads/feed.atom").text


def test_latest_demotes_the_others_of_its_major_version(tmp_path):
    client = client_for(make_site(tmp_path))
    seed(client, published=True, name="Python 3.13.1", slug="python-3131")
    client.patch(API + "release/1/", json={"is_latest": True}, headers=AUTH)
    seed(client, published=True, name="Python 3.14.0", slug="python-3140")
    client.patch(API + "release/2/", json={"is_latest": True}, headers=AUTH)
    latest = {r["name"]: r["is_latest"] for r in client.get(API + "release/").json()["objects"]}
    assert latest == {"Python 3.13.1": False, "Python 3.14.0": True}
