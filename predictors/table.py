"""``table``: accuracies measured elsewhere, read from a CSV or JSON-lines file.

CSV columns: ``arch`` (an arch JSON object ``{"ks":[20],"e":[20],"d":[5],"r":R}`` or an OFA
net.config, quoted as CSV requires) and ``accuracy`` (top-1 as a fraction 0..1); an optional
``seconds`` column is the cost of the original measurement. JSON lines carry the same keys
(:mod:`hwnas.archfile`). The same file can serve as a ``--pool``. Asking for an arch that is not in
the table is an :class:`HwnasError`.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

import numpy as np

from hwnas.arch import Arch, validate
from hwnas.archfile import read_arch_list
from hwnas.errors import HwnasError

from .base import Answer, Oracle


def read_table(path, width=None) -> dict:
    """``{arch_id: (accuracy, seconds)}`` from a CSV or JSON-lines arch list (:mod:`hwnas.archfile`)
    whose every row has an accuracy; one-line errors name the bad row."""
    rows = read_arch_list(path, what="accuracy table", width=width, need_accuracy=True)
    return {
        Arch.from_array(x).id: (float(a), 0.0 if math.isnan(s) else float(s))
        for x, a, s in zip(rows.X, rows.accuracy, rows.seconds, strict=True)
    }


def write_table(path, X, accuracy, seconds=None) -> None:
    """Write archs and accuracies in the format :func:`read_table` reads."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy", "seconds"])
        for i, row in enumerate(np.asarray(X)):
            w.writerow(
                [
                    Arch.from_array(row).to_json(),
                    repr(float(accuracy[i])),
                    "" if seconds is None else repr(float(seconds[i])),
                ]
            )


class TableOracle(Oracle):
    """Looks archs up in a CSV of measured accuracies; every arch asked must be in it."""

    name = "table"
    reads = ("table",)

    def __init__(self, space, table):
        super().__init__(space)
        self.path = str(table)
        self.table = read_table(table, width=space.width)
        digest = hashlib.sha256(Path(table).read_bytes()).hexdigest()
        self.version = "1+" + digest[:8]  # answers of another table never mix

    @classmethod
    def from_settings(cls, space, settings, **kw) -> "TableOracle":
        """See :meth:`Oracle.from_settings`: reads ``table`` (required)."""
        if settings.get("table") is None:
            raise HwnasError(
                f"oracle {cls.name} needs a CSV of measured accuracies "
                f"(--table FILE with columns arch, accuracy)"
            )
        return cls(space, settings["table"], **kw)

    def evaluate(self, X) -> list:
        """One Answer per row from the table (accuracy as a fraction 0..1, seconds); an unlisted
        arch: HwnasError."""
        X = validate(X)
        ids = [Arch.from_array(row).id for row in X]
        missing = [i for i in ids if i not in self.table]
        if missing:
            raise HwnasError(
                f"arch {missing[0]} ({len(missing)} of {len(ids)} asked) is not in "
                f"accuracy table "
                f"{self.path!r}, which has {len(self.table)} archs; the table oracle "
                f"answers only archs it lists"
            )
        return [Answer(*self.table[i]) for i in ids]
