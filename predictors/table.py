"""``table``: accuracies measured elsewhere, read from a CSV file.

Columns: ``arch`` (an arch JSON object ``{"ks":[20],"e":[20],"d":[5],"r":R}``, quoted as CSV requires)
and ``accuracy`` (top-1 as a fraction 0..1); an optional ``seconds`` column is the cost of the original
measurement. Asking for an arch that is not in the table is an :class:`HwnasError`.
"""

from __future__ import annotations

import csv
import io
import hashlib
import math
from pathlib import Path

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.errors import HwnasError
from hwnas.paths import read_text

from .base import Answer, Oracle


def read_table(path) -> dict:
    """``{arch_id: (accuracy, seconds)}`` from a CSV; one-line errors name the bad row."""
    text = read_text(path, "accuracy table")  # a BOM is read past; missing, empty, binary: one line
    out = {}
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f)
        cols = reader.fieldnames or []
        if "arch" not in cols or "accuracy" not in cols:
            raise HwnasError(f"accuracy table {str(path)!r} has columns {cols}; required: arch, accuracy "
                             "(optional: seconds)")
        for n, row in enumerate(reader, start=2):
            where = f"accuracy table {str(path)!r} line {n}"
            try:
                arch = Arch.from_json(row["arch"] or "")
            except HwnasError as exc:
                raise HwnasError(f"{where}: {exc}") from None
            try:
                acc = float(row["accuracy"])
            except (TypeError, ValueError):
                raise HwnasError(f"{where}: accuracy {row['accuracy']!r} is not a number; allowed: fractions 0..1") from None
            if not (math.isfinite(acc) and 0.0 <= acc <= 1.0):
                raise HwnasError(f"{where}: accuracy {acc} is out of range; allowed: fractions 0..1 (not percent)")
            sec = row.get("seconds")
            try:
                sec = float(sec) if sec not in (None, "") else 0.0
            except ValueError:
                raise HwnasError(f"{where}: seconds {sec!r} is not a number") from None
            out[arch.id] = (acc, sec)
    if not out:
        raise HwnasError(f"accuracy table {str(path)!r} has no rows")
    return out


def write_table(path, X, accuracy, seconds=None) -> None:
    """Write archs and accuracies in the format :func:`read_table` reads."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy", "seconds"])
        for i, row in enumerate(np.asarray(X)):
            w.writerow([Arch.from_array(row).to_json(), repr(float(accuracy[i])),
                        "" if seconds is None else repr(float(seconds[i]))])


class TableOracle(Oracle):
    """Looks archs up in a CSV of measured accuracies; every arch asked must be in it."""

    name = "table"

    def __init__(self, space, table):
        super().__init__(space)
        self.path = str(table)
        self.table = read_table(table)
        digest = hashlib.sha256(Path(table).read_bytes()).hexdigest()
        self.version = "1+" + digest[:8]  # answers of another table never mix

    @classmethod
    def from_settings(cls, space, settings, **kw) -> "TableOracle":
        """See :meth:`Oracle.from_settings`: reads ``table`` (required)."""
        if settings.get("table") is None:
            raise HwnasError(f"oracle {cls.name} needs a CSV of measured accuracies "
                             f"(--table FILE with columns arch, accuracy)")
        return cls(space, settings["table"], **kw)

    def evaluate(self, X) -> list:
        X = validate(X)
        ids = [Arch.from_array(row).id for row in X]
        missing = [i for i in ids if i not in self.table]
        if missing:
            raise HwnasError(f"arch {missing[0]} ({len(missing)} of {len(ids)} asked) is not in accuracy table "
                             f"{self.path!r}, which has {len(self.table)} archs; the table oracle answers only archs it lists")
        return [Answer(*self.table[i]) for i in ids]
