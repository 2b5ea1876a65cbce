"""Stage progress on stderr for ``fitdiff run``: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from .engine import StageResult


class Progress:
    """Stage progress on stderr: a tqdm bar on a terminal, plain lines otherwise, or nothing."""

    def __init__(self, total: int, *, quiet: bool, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.bar = None
        if not quiet and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                file=self.stream,
                unit="stage",
                leave=True,
                bar_format="{desc:<24}{bar:20}| {n_fmt}/{total_fmt} [{elapsed}]",
            )

    def start(self, name: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(f"fitdiff run: {name}")

    def done(self, result: StageResult) -> None:
        if self.quiet:
            return
        line = f"fitdiff run: {result.name:<9} {result.status:<7} {result.seconds:7.2f} s"
        if self.bar is not None:
            self.bar.update(1)
            self.bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
