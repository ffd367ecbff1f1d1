"""The export pass's progress bar (derive, checkpoint): bundles checked and the rate, redrawn in place.

Drawn only on a terminal: on a pipe, a file or CI's log it draws nothing, and ``--quiet`` turns it
off. When the export is a file its size is known, so the bar shows how much of it has been read.
Plain ``\\r`` redraws, no escape codes and no dependency.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 24  # characters of the bar itself
REDRAW_SECONDS = 0.1


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # closed, or not a real stream
        return False


class ProgressBar:
    """``update`` as lines are read (cheap: it redraws at most every REDRAW_SECONDS), ``finish`` at the end."""

    def __init__(
        self,
        stream: TextIO,
        total_bytes: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float | None = None,
    ) -> None:
        self.stream = stream
        self.total = total_bytes if total_bytes else None
        self._clock = clock
        self._every = REDRAW_SECONDS if every is None else every
        self._started = clock()
        self._next = self._started + self._every
        self._shown = 0  # length of the line on screen, to blank what a shorter one leaves

    @classmethod
    def on(cls, stream: TextIO | None, total_bytes: int | None = None) -> ProgressBar | None:
        """A bar on ``stream`` if it is a terminal; None (nothing to draw) otherwise."""
        return cls(stream, total_bytes) if stream is not None and is_terminal(stream) else None

    def line(self, count: int, done_bytes: int, now: float) -> str:
        rate = count / max(now - self._started, 1e-9)
        text = f"checked {count:,} bundles ({rate:,.0f}/s)"
        if self.total is None:
            return text
        fraction = min(done_bytes / self.total, 1.0)
        filled = int(fraction * WIDTH)
        return f"[{'#' * filled}{'.' * (WIDTH - filled)}] {fraction:4.0%} {text}"

    def update(self, count: int, done_bytes: int = 0) -> None:
        now = self._clock()
        if now >= self._next:
            self._next = now + self._every
            self._draw(self.line(count, done_bytes, now))

    def finish(self, count: int, done_bytes: int = 0) -> None:
        """The final figures, left on their line."""
        if count:
            self._draw(self.line(count, done_bytes, self._clock()))
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, text: str) -> None:
        self.stream.write("\r" + text + " " * max(self._shown - len(text), 0))
        self.stream.flush()
        self._shown = len(text)
