"""One-line notices on stderr (``hwnas: notice: ...``), held back while a CLI command runs.

The API prints a notice at once. The CLI runs each command inside ``held()`` and prints the held
notices after the command succeeded, so a failing command still prints exactly one line (its error).
"""

from __future__ import annotations

import contextlib
import sys

_held = None  # a list while notices are held, else None


def notice(line: str) -> None:
    """Print ``line`` on stderr now, or hold it until ``held()`` ends."""
    if _held is None:
        print(line, file=sys.stderr)
    else:
        _held.append(line)


@contextlib.contextmanager
def held():
    """Hold notices; yields the list they collect in (printing them is the caller's choice)."""
    global _held
    outer, _held = _held, []
    try:
        yield _held
    finally:
        _held = outer
