"""The build phase of the release DAG: the signing policy and the reproducibility gate."""

from __future__ import annotations

import os


from relman.demo.sample import create_sample_project
from relman.engine.runner import ApprovalPolicy, Observer
from relman.release.session import ReleaseSession
from relman.version import Version


def session(tmp_path, **signing):
    sample = create_sample_project(tmp_path / "s", Version.parse("3.14.0rc1"))
    return ReleaseSession.open("3.14.0rc1", sample.repo, state_dir=tmp_path / "state",
                               overrides={"signing": signing} if signing else None)


def test_no_signer_is_refused_before_the_tag(tmp_path):
    result = session(tmp_path).run(approvals=ApprovalPolicy(approve_all=True), observer=Observer())
    assert result.status == "failed" and result.failed == ["preflight.signing"]
    assert "refusing to publish unsigned" in result.steps["preflight.signing"].error
    assert result.steps["source.tag"].status == "pending", "nothing is tagged"
    assert result.steps["post.push-upstream"].status == "pending", "nothing goes upstream"


def test_a_second_build_that_differs_stops_the_run(tmp_path, monkeypatch):
    import relman.artifacts.archive as archive

    original = archive.build_source_archives

    def nondeterministic(repo, version, out_dir, *, generate=None, **kw):
        def hook(files):
            produced = dict(generate(files)) if generate else {}
            produced["Misc/build-noise.txt"] = os.urandom(16)
            return produced
        return original(repo, version, out_dir, generate=hook, **kw)

    monkeypatch.setattr(archive, "build_source_archives", nondeterministic)
    result = session(tmp_path, allow_unsigned=True).run(approvals=ApprovalPolicy(approve_all=True),
                                                         observer=Observer())
    assert result.status == "failed" and "build.reproducible" in result.failed
    error = result.steps["build.reproducible"].error
    assert "not reproducible" in error and "Python-3.14.0rc1.tgz" in error
    assert result.steps["post.merge-back"].status == "pending"
