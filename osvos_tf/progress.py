"""A small console progress bar (stderr) for long loops: count, rate, ETA and a status text."""

from __future__ import annotations

import sys
import time


class Progress:
    """Prints ``label [#####.....] 12/100  3.1 s/it  ETA 4m32s  status`` on one line of stderr.

    On a terminal the line is redrawn in place; otherwise (logs, CI) a line is printed every
    ``every_s`` seconds and at the end, so log files stay short.
    """

    def __init__(self, total: int | None, label: str = "", enabled: bool = True, every_s: float = 10.0, stream=None):
        self.total = total
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.count = 0
        self.start = time.perf_counter()
        self._last_print = 0.0
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n: int = 1, status: str = "") -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.perf_counter()
        final = self.total is not None and self.count >= self.total
        if not final and now - self._last_print < (0.2 if self._tty else self.every_s):
            return
        self._last_print = now
        self._print(status, final)

    def _print(self, status: str, final: bool) -> None:
        elapsed = time.perf_counter() - self.start
        rate = elapsed / self.count if self.count else 0.0
        if self.total:
            done = int(20 * self.count / self.total)
            bar = "[" + "#" * done + "." * (20 - done) + "]"
            eta = rate * (self.total - self.count)
            text = f"{self.label} {bar} {self.count}/{self.total}  {rate:.2f} s/it  ETA {_fmt(eta)}"
        else:
            text = f"{self.label} {self.count}  {rate:.2f} s/it  elapsed {_fmt(elapsed)}"
        if status:
            text += "  " + status
        if self._tty:
            self.stream.write("\r" + text.ljust(100) + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self, status: str = "") -> None:
        if self.enabled and (self._tty or self.count):
            if not (self.total is not None and self.count >= self.total and self._last_print):
                self._print(status, True)


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
