"""Registration by diff through the real client against the real site, with injected failures."""

from __future__ import annotations

import pytest

from relman.publish.client import Backoff, DownloadsClient, RegistrationFailed
from relman.publish.models import ReleaseFilePayload
from tests.web.downloads_helpers import AUTH, KEY, FailRequests, client_for, make_site, seed

BASE = "https://downloads.example.org/ftp/python/3.14.0/"


def payload(uris, label, name, *, os_slug="source", button=False, sha="ab", size=10) -> ReleaseFilePayload:
    url = BASE + name
    return ReleaseFilePayload(name=label, slug="3140-rc1-" + label.replace(" ", "-"), os=uris[os_slug],
                              release=uris["release"], url=url, download_button=button, filesize=size,
                              sha256_sum=sha * 32, gpg_signature_file=url + ".asc")


def old_and_new(uris):
    old = [payload(uris, "Gzip", "a.tgz"), payload(uris, "XZ", "a.tar.xz", button=True),
           payload(uris, "Old docs", "docs.zip")]
    new = [payload(uris, "Gzip", "a.tgz"),                              # unchanged
           payload(uris, "XZ", "a.tar.xz", sha="cd", size=11),            # changed, loses the button
           payload(uris, "Zstd", "a.tar.zst", button=True),               # new, takes the button
           payload(uris, "Windows", "w.exe", os_slug="windows", button=True)]   # new; Old docs goes
    return old, new


def rows(http, release_uri):
    return {r["slug"]: r for r in http.get("/api/v1/downloads/release_file/",
                                           params={"release": release_uri, "limit": 0}, headers=AUTH).json()["objects"]}


def test_diff_creates_updates_deletes_and_a_second_run_changes_nothing(tmp_path):
    http = client_for(make_site(tmp_path))
    uris = seed(http)
    client = DownloadsClient("http://testserver", KEY, http=http, sleep=lambda s: None)
    old, new = old_and_new(uris)
    first = client.register_files(uris["release"], old)
    assert sorted(first.created) == sorted(p.slug for p in old)
    result = client.register_files(uris["release"], new)
    assert result.unchanged == ["3140-rc1-Gzip"] and result.updated == ["3140-rc1-XZ"]
    assert sorted(result.created) == ["3140-rc1-Windows", "3140-rc1-Zstd"] and result.deleted == ["3140-rc1-Old-docs"]
    after = rows(http, uris["release"])
    assert set(after) == {p.slug for p in new}
    for p in new:
        assert {k: after[p.slug][k] for k in ("url", "sha256_sum", "filesize", "download_button")} == \
               {"url": p.url, "sha256_sum": p.sha256_sum, "filesize": p.filesize, "download_button": p.download_button}
    again = client.register_files(uris["release"], new)
    assert again.created == again.updated == again.deleted == [] and len(again.unchanged) == 4


def test_one_failed_request_is_retried_with_backoff(tmp_path):
    site = make_site(tmp_path)
    http = client_for(site)
    uris = seed(http)
    faults = FailRequests(None, {3})
    flaky = client_for(site, wrap=lambda app: setattr(faults, "app", app) or faults)
    slept: list[float] = []
    client = DownloadsClient("http://testserver", KEY, http=flaky, sleep=slept.append,
                             backoff=Backoff(attempts=3, first_s=0.5))
    old, _ = old_and_new(uris)
    client.register_files(uris["release"], old)
    assert faults.count >= 4 and slept == [0.5]          # the third request failed once, then went through
    assert set(rows(http, uris["release"])) == {p.slug for p in old}


def test_half_failed_registration_is_finished_by_a_rerun(tmp_path):
    site = make_site(tmp_path)
    http = client_for(site)
    uris = seed(http)
    old, new = old_and_new(uris)
    DownloadsClient("http://testserver", KEY, http=http).register_files(uris["release"], old)
    # From the third request on, the server fails (longer than the client's retries last).
    faults = FailRequests(None, {3, 4, 5})
    broken = client_for(site, wrap=lambda app: setattr(faults, "app", app) or faults)
    client = DownloadsClient("http://testserver", KEY, http=broken, sleep=lambda s: None,
                             backoff=Backoff(attempts=3))
    with pytest.raises(RegistrationFailed) as failure:
        client.register_files(uris["release"], new)
    assert "run again" in str(failure.value)
    middle = rows(http, uris["release"])
    assert middle, "the file list must never be left empty"
    assert "3140-rc1-Gzip" in middle and "3140-rc1-XZ" in middle      # files that stay were never removed
    assert sum(r["download_button"] for r in middle.values() if r["os"] == uris["source"]) <= 1
    # the site is healthy again: the same call finishes the job
    result = client.register_files(uris["release"], new)
    final = rows(http, uris["release"])
    assert set(final) == {p.slug for p in new}
    assert final["3140-rc1-XZ"]["sha256_sum"] == "cd" * 32 and final["3140-rc1-Zstd"]["download_button"]
    assert "3140-rc1-Old-docs" in result.deleted


def test_release_is_created_unpublished_and_published_only_on_request(tmp_path):
    from relman.publish.files import release_payload
    from relman.version import Version

    http = client_for(make_site(tmp_path))
    client = DownloadsClient("http://testserver", KEY, http=http)
    release = client.ensure_release(release_payload(Version.parse("3.14.0rc1")))
    assert release["name"] == "Python 3.14.0rc1" and release["slug"] == "python-3140rc1"
    assert release["is_published"] is False and release["pre_release"] is True
    assert http.get("/api/v1/downloads/release/").json()["objects"] == []          # anonymous: nothing
    again = client.ensure_release(release_payload(Version.parse("3.14.0rc1")))
    assert again["resource_uri"] == release["resource_uri"]                         # found, not duplicated
    client.set_published(release["resource_uri"])
    assert http.get("/api/v1/downloads/release/").json()["meta"]["total_count"] == 1


def test_a_wrong_key_is_a_clear_error_not_a_retry(tmp_path):
    from relman.errors import ExternalServiceError

    http = client_for(make_site(tmp_path))
    slept: list[float] = []
    client = DownloadsClient("http://testserver", "rm:wrong", http=http, sleep=slept.append)
    with pytest.raises(ExternalServiceError) as error:
        client.os_uri("source")
    assert "401" in str(error.value) and "api_key_env" in str(error.value) and slept == []
