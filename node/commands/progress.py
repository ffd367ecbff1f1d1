"""A one-line progress display on stderr for long commands (``audit``, ``export``): drawn only on a
terminal, redrawn in place with ``\\r`` at most every REDRAW_SECONDS; on a pipe, a file or a CI log it
writes nothing, so output stays clean for the next program."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from pacspace_verify.progress import is_terminal  # the verifier's bar draws only on a terminal too

REDRAW_SECONDS = 0.1


class Progress:
    """``step(label, done, total)`` as work goes; ``finish()`` clears the line before the results print."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self._clock = clock
        self._next = 0.0
        self._shown = 0

    @classmethod
    def on(cls, stream: TextIO | None = None, *, quiet: bool = False) -> Progress | None:
        """A display on ``stream`` (default stderr) when it is a terminal and not ``quiet``; None otherwise."""
        stream = sys.stderr if stream is None else stream
        return None if quiet or not is_terminal(stream) else cls(stream)

    def step(self, label: str, done: int, total: int | None = None) -> None:
        now = self._clock()
        if now < self._next and (total is None or done < total):
            return
        self._next = now + REDRAW_SECONDS
        text = f"{label}: {done:,}" + (f" of {total:,}" if total is not None else "")
        self.stream.write("\r" + text + " " * max(self._shown - len(text), 0))
        self.stream.flush()
        self._shown = len(text)

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
