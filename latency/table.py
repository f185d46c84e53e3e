"""Reading and writing latency tables: OFA's ``{r}_lookup_table.yaml`` format, both ways.

A table is a YAML mapping ``key -> {mean, std, count}`` with times in **milliseconds** (OFA's unit):
``mean`` is the value predictions use (hwnas writes the median over rounds there, see
``docs/latency.md``), ``std`` the dispersion over rounds and ``count`` the number of rounds. hwnas
may add extra fields per entry (``min``, ``max``, ``iqr``); OFA's reader ignores them.

Files are read with ``yaml.safe_load`` and written with an atomic replace, so an interrupted build
never leaves a half-written table.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import yaml

from hwnas.errors import HwnasError

TABLE_SUFFIX = "_lookup_table.yaml"
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def table_path(folder, resolution: int) -> Path:
    """The lookup-table file of ``resolution`` px in ``folder``:
    ``<folder>/<r>_lookup_table.yaml``."""
    return Path(folder) / f"{int(resolution)}{TABLE_SUFFIX}"


def table_resolutions(folder) -> tuple:
    """Resolutions (px) with a ``{r}_lookup_table.yaml`` file in ``folder``, ascending."""
    out = []
    for p in Path(folder).glob(f"*{TABLE_SUFFIX}"):
        head = p.name[: -len(TABLE_SUFFIX)]
        if head.isdigit():
            out.append(int(head))
    return tuple(sorted(out))


def read_yaml(path) -> object:
    """``yaml.safe_load`` a file; a YAML error is a one-line HwnasError naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise HwnasError(f"cannot read {str(p)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise HwnasError(f"{str(p)!r} is not UTF-8 text YAML") from None
    try:
        # the safe loader (its C version when available)
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise HwnasError(f"corrupt YAML in {str(p)!r}{where}: {problem}") from None


def load_table(path) -> dict:
    """Read one table: ``{key: {"mean": ms, "std": ms, "count": n, ...}}``, checked entry by
    entry."""
    p = Path(path)
    data = read_yaml(p)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HwnasError(
            f"corrupt latency table {str(p)!r}: expected a mapping of layer keys, got "
            f"{type(data).__name__}"
        )
    for key, entry in data.items():
        if not isinstance(key, str) or not isinstance(entry, dict) or "mean" not in entry:
            raise HwnasError(
                f"corrupt latency table {str(p)!r}: entry {str(key)[:80]!r} has no 'mean' (ms)"
            )
        mean = entry["mean"]
        if (
            isinstance(mean, bool)
            or not isinstance(mean, (int, float))
            or not math.isfinite(mean)
            or mean < 0
        ):
            raise HwnasError(
                f"corrupt latency table {str(p)!r}: entry {key!r} has mean {mean!r}; "
                f"allowed: a finite number >= 0 (ms)"
            )
    return data


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a reader never sees half a
    file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make the files private to their writer
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_table(path, table: dict) -> None:
    """Write a table atomically (keys sorted, like OFA's files)."""
    clean = {k: {f: _plain(v) for f, v in entry.items()} for k, entry in table.items()}
    atomic_write_text(path, yaml.safe_dump(clean, sort_keys=True, default_flow_style=False))


def atomic_write_yaml(path, obj: dict, sort_keys: bool = False) -> None:
    """Write ``obj`` to ``path`` as YAML (plain types, ``yaml.safe_dump``), atomically."""
    atomic_write_text(
        path, yaml.safe_dump(_plain(obj), sort_keys=sort_keys, default_flow_style=False)
    )


def _plain(v):
    """numpy scalars/arrays and str subclasses (torch's version) -> plain Python for safe_dump."""
    if isinstance(v, str):
        return str(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and callable(v.item) and getattr(v, "ndim", 1) == 0:
        return v.item()
    if hasattr(v, "tolist"):
        return v.tolist()
    return v
