"""The per-user cache folder, the one place hwnas writes when the user names no folder.

``$HWNAS_CACHE`` if set, else ``$XDG_CACHE_HOME/hwnas``, else ``~/.cache/hwnas`` (XDG Base Directory
conventions). Downloaded assets and resumable end-to-end measurements live under it.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """The per-user cache folder (not created)."""
    env = os.environ.get("HWNAS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():  # the XDG spec says to ignore relative paths
        return Path(xdg) / "hwnas"
    return Path.home() / ".cache" / "hwnas"


def cache_path(*parts: str) -> Path:
    """A path under the per-user cache folder (parents not created)."""
    return cache_root().joinpath(*parts)
