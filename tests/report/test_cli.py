"""``fitdiff report RUN/`` on the command line."""

from __future__ import annotations

import subprocess
import sys

from fitdiff.cli import main


def test_report_command_writes_and_prints(full_run, capsys):
    run_dir, _ = full_run
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "report.html" in out and "5 figures" in out
    assert (run_dir / "report.md").is_file()


def test_quiet_prints_nothing(full_run, capsys):
    run_dir, _ = full_run
    assert main(["report", "-q", str(run_dir)]) == 0
    assert capsys.readouterr().out == ""


def test_corrupt_file_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "posterior.json").write_text("[1, 2", encoding="utf-8")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fitdiff report: error:" in err and "posterior.json: not readable as JSON" in err


def test_subprocess_exit_codes(tmp_path, full_run):
    run_dir, _ = full_run
    ok = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "report", "-q", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "fitdiff.cli", "report", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2
    assert "not a RUN directory" in bad.stderr and "Traceback" not in bad.stderr
