"""Every command block of the README and docs/guide runs as written (issue 12 item 13).

The blocks run in order (README first, then the guides alphabetically) in one scratch folder
holding copies of ``data/`` and ``analyses/``, as a user runs them from the repository root.
``bash`` and ``console`` blocks are commands (``pip install`` and ``pytest`` steps are the
installation the test environment already has); ``python`` blocks run as scripts. A block
that needs the user's own files or a cluster is preceded by ``<!-- not run: why -->``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs" / "guide").glob("*.md"))]
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```",
    re.MULTILINE | re.DOTALL,
)
_NOT_RUN = re.compile(r"<!--\s*not run:[^>]*-->\s*$")
_RUN_LANGS = ("bash", "console", "python")
_SETUP = ("pip", "pytest")  # the environment's installation, done by CI itself


@dataclass
class Block:
    doc: str
    line: int
    lang: str
    body: str
    skipped: bool


def blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, with their ``not run`` marks."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").splitlines()
        previous = before[-1] if before else ""
        indent = m.group("indent")
        body = "\n".join(
            ln[len(indent) :] if ln.startswith(indent) else ln
            for ln in m.group("body").splitlines()
        )
        out.append(
            Block(
                doc=str(path.relative_to(REPO)),
                line=text.count("\n", 0, m.start()) + 1,
                lang=m.group("lang"),
                body=body,
                skipped=bool(_NOT_RUN.search(previous)),
            )
        )
    return out


def commands(block: Block) -> list[list[str]]:
    """The argument lists a bash or console block runs (setup steps left out)."""
    lines = block.body.splitlines()
    if block.lang == "console":
        lines = [ln[2:] for ln in lines if ln.startswith("$ ")]
    out = []
    for line in lines:
        for part in line.split("&&"):
            argv = shlex.split(part, comments=True)
            if argv and argv[0] not in _SETUP:
                out.append(argv)
    return out


def _argv(argv: list[str]) -> list[str]:
    if argv[0] == "fitdiff":
        return [sys.executable, "-m", "fitdiff.cli", *argv[1:]]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    raise AssertionError(f"unknown program {argv[0]!r}: mark the block <!-- not run: ... -->")


def test_blocks_are_found_and_marks_are_attached():
    found = [b for doc in DOCS for b in blocks(doc) if b.lang in _RUN_LANGS]
    readme = [b for b in found if b.doc == "README.md"]
    # the README's quick start, tour and Python snippet run; the cluster blocks are marked
    assert [b.skipped for b in readme[:2]] == [False, False]
    assert not next(b for b in readme if b.lang == "python").skipped
    assert any(b.skipped for b in readme)
    assert all(b.lang in _RUN_LANGS for b in found)


def test_readme_python_snippet_uses_the_example_without_overrides():
    snippet = next(b for b in blocks(REPO / "README.md") if b.lang == "python")
    assert 'fitdiff.load("data/examples/streak_100K.img")' in snippet.body
    assert "x_um_per_px" not in snippet.body


@pytest.mark.slow
def test_every_command_block_runs(tmp_path):
    work = tmp_path / "checkout"
    work.mkdir()
    for folder in ("data", "analyses"):
        shutil.copytree(REPO / folder, work / folder)
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="Agg")
    ran = 0
    for doc in DOCS:
        for block in blocks(doc):
            if block.lang not in _RUN_LANGS or block.skipped:
                continue
            where = f"{block.doc}:{block.line}"
            if block.lang == "python":
                script = work / f"block_{block.line}.py"
                script.write_text(block.body, encoding="utf-8")
                runs = [[sys.executable, str(script)]]
            else:
                runs = [_argv(argv) for argv in commands(block)]
            for argv in runs:
                proc = subprocess.run(
                    argv, cwd=work, env=env, capture_output=True, text=True, timeout=1800
                )
                assert proc.returncode == 0, (
                    f"{where}: {' '.join(argv[2:] if argv[1] == '-m' else argv[1:])} exited "
                    f"{proc.returncode}\n{proc.stderr[-3000:]}"
                )
                ran += 1
    # README quick start 1 + tour 10 + Python 1, guides: physics 3 + 1, pipeline 1, report 2 + 1,
    # simulate 1 (a floor: adding a block must not silently drop another)
    assert ran >= 20
