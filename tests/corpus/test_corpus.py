"""The bad-input corpus: hundreds of malformed inputs, each with the exit code (or HTTP status)
and the message a person should see, and never a traceback or a 500. See README.md."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
import tomllib
import traceback
from pathlib import Path

import pytest
from click.testing import CliRunner

from relman.cli.main import cli

from conftest import require_tool

HERE = Path(__file__).resolve().parent
CASE_FILES = sorted(HERE.glob("*.toml"))


def _load_cases() -> list:
    params = []
    for path in CASE_FILES:
        document = tomllib.loads(path.read_text())
        names = set()
        for case in document.get("case", []):
            assert case["name"] not in names, f"{path.name}: duplicate case name {case['name']!r}"
            names.add(case["name"])
            params.append(pytest.param(path.stem, case, id=f"{path.stem}::{case['name']}"))
    return params


CASES = _load_cases()


def test_corpus_is_big_enough():
    assert len(CASES) >= 200, f"the corpus has {len(CASES)} cases; the promise is at least 200"


# ---- local server answering recorded (or malformed) shapes ------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    responses: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0]
        body = self.server.responses.get(path)  # type: ignore[attr-defined]
        if body is None:
            # prefix match: /api/v2/builders/1/builds answers for any query
            body = next((b for p, b in self.server.responses.items() if path.startswith(p.rstrip("*"))  # type: ignore[attr-defined]
                         and p.endswith("*")), None)
        status = 200
        if body is None:
            status, body = 404, json.dumps({"error": "not found"})
        elif body.startswith("status:"):
            head, _, body = body.partition(" ")
            status = int(head.split(":")[1])
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up early is not relman's output (CliRunner captures stderr)


class LocalServer:
    def __init__(self, responses: dict[str, str]):
        self.httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        self.httpd.responses = responses  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- shared inputs built once per session -----------------------------------------------------

def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def generic_repo(tmp_path_factory) -> Path:
    """A plain Python package released with the generic profile, at 1.0.0 with a tag."""
    repo = tmp_path_factory.mktemp("corpus") / "pkg"
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "pyproject.toml").write_text('[project]\nname = "pkg"\nversion = "1.0.0"\n')
    (repo / "src" / "pkg" / "__init__.py").write_text('__version__ = "1.0.0"\n')
    env = {**os.environ, "GIT_AUTHOR_NAME": "RM", "GIT_AUTHOR_EMAIL": "rm@example.org",
           "GIT_COMMITTER_NAME": "RM", "GIT_COMMITTER_EMAIL": "rm@example.org"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "1.0.0"], ["tag", "v1.0.0"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)
    return repo


@pytest.fixture(scope="session")
def built_release(tmp_path_factory) -> Path:
    """A signed rc1 release of the artifacts tests' fixture project, built once: archives,
    SBOMs, docs, SHA256SUMS, the manifest and GPG signatures by a throwaway key. Cases copy it,
    tamper with the copy, and run `relman verify` on it with that key's keyring."""
    from artifacts.conftest import fake_news, make_repo, sample_files

    from relman.artifacts.build import build_release_artifacts
    from relman.artifacts.signing import GpgSigner
    from relman.demo.signing import demo_signing

    require_tool("gpg")
    root = tmp_path_factory.mktemp("corpus-release")
    signing = demo_signing(root)
    repo = make_repo(root / "repo", sample_files(), symlinks={"Tools/readme": "../README.rst"})
    result = build_release_artifacts(repo, "3.14.0rc1", root / "dist", profile="demo", generate=fake_news,
                                     signers=[GpgSigner(str(signing["gpg_key"]), Path(str(signing["gnupghome"])))])
    (result.directory / ".gnupghome").write_text(str(signing["gnupghome"]))
    return result.directory


def _tamper(folder: Path, operation: list) -> None:
    op, name, *rest = operation
    matches = sorted(folder.glob(name))
    assert matches, f"tamper target {name!r} not in {sorted(p.name for p in folder.iterdir())}"
    path = matches[0]
    if op == "flip":
        data = bytearray(path.read_bytes())
        offset = int(rest[0]) % len(data)
        data[offset] ^= 0x01
        path.write_bytes(bytes(data))
    elif op == "truncate":
        path.write_bytes(path.read_bytes()[: int(rest[0])])
    elif op == "append":
        path.write_bytes(path.read_bytes() + str(rest[0]).encode())
    elif op == "delete":
        path.unlink()
    elif op == "copy":
        shutil.copyfile(path, folder / str(rest[0]))
    elif op == "replace":
        path.write_text(path.read_text().replace(str(rest[0]), str(rest[1])))
    elif op == "json":
        document = json.loads(path.read_text())
        target = document
        keys = str(rest[0]).split(".")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = rest[1]
        else:
            target[last] = rest[1]
        path.write_text(json.dumps(document, indent=2))
    else:
        raise AssertionError(f"unknown tamper operation {op!r}")


def _substitute(value, mapping: dict[str, str]):
    if isinstance(value, str):
        for key, replacement in mapping.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(v, mapping) for v in value]
    if isinstance(value, dict):
        return {_substitute(k, mapping): _substitute(v, mapping) for k, v in value.items()}
    return value


def _assert_no_crash(result) -> None:
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text = "".join(traceback.format_exception(result.exception))
        pytest.fail(f"bad input raised an exception instead of a message:\n{text}")
    assert "Traceback (most recent call last)" not in result.output


@pytest.mark.parametrize(("kind", "case"), [c for c in CASES if c.values[0] != "site_api"])
def test_command_line_case(kind: str, case: dict, tmp_path: Path, request, monkeypatch) -> None:
    mapping = {"tmp": str(tmp_path)}
    args = case["args"]
    joined = " ".join(args)
    if "{repo}" in joined:
        repo = tmp_path / "repo"
        shutil.copytree(request.getfixturevalue("generic_repo"), repo, symlinks=True)
        mapping["repo"] = str(repo)
        for rel, text in case.get("repo_files", {}).items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(text)
        mapping["state"] = str(tmp_path / "state")
    if "{release}" in joined:
        release = tmp_path / "release"
        shutil.copytree(request.getfixturevalue("built_release"), release)
        mapping["release"] = str(release)
        mapping["gnupghome"] = (release / ".gnupghome").read_text()
        (release / ".gnupghome").unlink()
        for operation in case.get("tamper", []):
            _tamper(release, operation)
    for rel, text in _substitute(case.get("files", {}), mapping).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, str):
            target.write_text(text, encoding="utf-8")
    for rel, hexdata in case.get("binary_files", {}).items():
        target = tmp_path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes.fromhex(hexdata))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELMAN_STATE_DIR", str(tmp_path / "state"))
    env = case.get("env", {})

    def invoke(server_url: str | None):
        if server_url:
            mapping["server"] = server_url
        return CliRunner().invoke(cli, _substitute(args, mapping), env=_substitute(env, mapping),
                                  input=case.get("input"))

    if "responses" in case:
        with LocalServer(case["responses"]) as server:
            result = invoke(server.url)
    else:
        result = invoke(None)
    _assert_no_crash(result)
    assert result.exit_code == case["exit"], (
        f"expected exit {case['exit']}, got {result.exit_code}; output:\n{result.output}")
    fragment = case.get("message")
    if fragment:
        assert fragment.lower() in result.output.lower(), (
            f"expected {fragment!r} in the output:\n{result.output}")


# ---- HTTP requests to the web app (site_api.toml) ---------------------------------------------

API_KEY = "corpus-key-0f3c9a"


@pytest.fixture
def site_client(tmp_path):
    from starlette.testclient import TestClient

    from relman.site.app import Site, create_app

    site = Site(data_dir=tmp_path / "site", api_keys={"rm": API_KEY})
    with TestClient(create_app(site), raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(("kind", "case"), [c for c in CASES if c.values[0] == "site_api"])
def test_web_request_case(kind: str, case: dict, site_client) -> None:
    for setup in case.get("before", []):  # requests that set the scene (must succeed)
        response = site_client.request(setup["method"], setup["path"], content=setup["body"].encode(),
                                       headers={"Authorization": f"ApiKey rm:{API_KEY}",
                                                "Content-Type": "application/json"})
        assert response.status_code < 300, (setup, response.status_code, response.text)
    headers = dict(case.get("headers", {}))
    if case.get("auth", False):
        headers["Authorization"] = f"ApiKey rm:{API_KEY}"
    kwargs: dict = {"headers": headers}
    if "json" in case:
        kwargs["json"] = case["json"]
    elif "body" in case:
        kwargs["content"] = case["body"].encode()
    elif "body_size" in case:
        kwargs["content"] = b"x" * int(case["body_size"])
    response = site_client.request(case["method"], case["path"], **kwargs)
    assert response.status_code != 500, f"HTTP 500 for {case['name']}: {response.text[:500]}"
    assert response.status_code == case["status"], (response.status_code, response.text[:500])
    if case.get("message"):
        assert case["message"].lower() in response.text.lower(), response.text[:500]
    assert "Traceback" not in response.text
