"""The real-file tests never skip silently (issue 11, defect 9).

On a bare clone (no ``../shared/realdata``) they skip and the run ends with one line saying how
many did not run and why; in CI (``FITDIFF_REQUIRE_REALDATA=1``, set by ``.ci/run``, which
refuses to start without the folder) a missing folder is a failure.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The variable tests/conftest.py reads (not imported: every test folder has a conftest module)
REQUIRE_ENV = "FITDIFF_REQUIRE_REALDATA"

TESTS = """
def test_reads_a_sample(realdata):
    assert realdata.is_dir()

def test_reads_another(realdata):
    assert realdata.is_dir()

def test_needs_no_sample():
    pass
"""


def _bare_clone(pytester) -> None:
    # the fixture looks for <repo>/../shared/realdata; the pytester folder has no such sibling
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_samples=TESTS)
    assert not (pytester.path.parent / "shared" / "realdata").exists()


def test_bare_clone_skips_with_one_summary_line(pytester, monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    _bare_clone(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=2)
    lines = [line for line in result.outlines if "real-file test" in line]
    assert len(lines) == 1, result.outlines
    assert lines[0].startswith("fitdiff: 2 real-file tests did not run: ")
    assert "shared/realdata is absent" in lines[0]


def test_ci_fails_when_realdata_is_missing(pytester, monkeypatch):
    monkeypatch.setenv(REQUIRE_ENV, "1")
    _bare_clone(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [f"*{REQUIRE_ENV} is set (CI) but the real sample data is missing*"]
    )


def _stub(folder: Path, name: str) -> None:
    path = folder / name
    path.write_text(f'#!/bin/sh\necho "{name} $* {REQUIRE_ENV}=${REQUIRE_ENV}" >> "$STUB_LOG"\n')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_ci_script_refuses_to_run_without_realdata(tmp_path):
    # .ci/run in a checkout with stand-ins for python, pip, pytest and chromium (nothing installs)
    repo = tmp_path / "repo"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(REPO / ".ci" / "run", repo / ".ci" / "run")
    # the wheel check that .ci/run calls after the tests: a stand-in that does nothing
    wheel_check = repo / ".ci" / "wheel_check"
    wheel_check.write_text("#!/usr/bin/env bash\nexit 0\n")
    wheel_check.chmod(0o755)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for name in ("python", "pip", "pytest", "chromium", "apt-get"):
        _stub(stubs, name)
    log = tmp_path / "stub.log"
    env = {**os.environ, "PATH": f"{stubs}:/usr/bin:/bin", "STUB_LOG": str(log)}
    env.pop(REQUIRE_ENV, None)

    missing = subprocess.run(
        ["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 1
    assert "../shared/realdata is missing" in missing.stderr
    assert not log.exists()  # refused before installing or testing anything

    (tmp_path / "shared" / "realdata").mkdir(parents=True)
    present = subprocess.run(
        ["bash", str(repo / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert present.returncode == 0, present.stderr
    calls = log.read_text().splitlines()
    assert calls[-1] == f"pytest  {REQUIRE_ENV}=1"
