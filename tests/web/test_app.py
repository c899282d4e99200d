"""The app shell: static files, API key parsing and checking, loopback by default."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from relman.errors import UsageError
from relman.site.app import Site, create_app, parse_api_keys


def test_static_stylesheet_is_served(tmp_path):
    client = TestClient(create_app(Site(data_dir=tmp_path / "site")))
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "--ok" in response.text


def test_api_keys_parse_and_refuse_malformed():
    assert parse_api_keys("rm:abc, ci:def") == {"rm": "abc", "ci": "def"}
    assert parse_api_keys("") == {}
    with pytest.raises(UsageError) as error:
        parse_api_keys("rm-without-key")
    assert "user:key" in str(error.value)


def test_authenticate_accepts_only_the_right_key(tmp_path):
    site = Site(data_dir=tmp_path, api_keys={"rm": "s3cret"})

    class FakeRequest:
        def __init__(self, header):
            self.headers = {"authorization": header} if header else {}

    assert site.authenticate(FakeRequest("ApiKey rm:s3cret")) == "rm"
    for header in (None, "ApiKey rm:wrong", "ApiKey other:s3cret", "Bearer s3cret", "ApiKey rm:"):
        assert site.authenticate(FakeRequest(header)) is None


def test_serve_binds_loopback_by_default():
    from relman.cli.serve_cmd import serve

    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"
    result = CliRunner().invoke(serve, ["--help"])
    assert "RELMAN_SITE_API_KEYS" in result.output
