"""One table per kind of pluggable part: name -> lazily imported implementation and a description.

Every derived use reads the same table: CLI choices and help (:meth:`Registry.names`,
:meth:`Registry.choices_help`), config validation (:meth:`Registry.check`), README/docs tables
(:meth:`Registry.markdown_table`) and test parametrisation (:meth:`Registry.names`). Adding a member
is one new file plus one table line. Foundation layer: imports only the stdlib and
:mod:`hwnas.errors`, and nothing named in a table is imported until it is loaded.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from .errors import HwnasError, allowed


@dataclass(frozen=True)
class Entry:
    """One member: its ``name``, ``target`` ("package.module:attr") and a one-line ``summary``."""

    name: str
    target: str
    summary: str


class Registry:
    """An ordered, immutable table of one kind (``kind`` names it in errors: "search algorithm").

    ``entries`` are ``(name, "module:attr", summary)`` triples; their order is the order users see.
    """

    def __init__(self, kind: str, entries):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        for name, target, summary in entries:
            self._add(Entry(name, target, summary))

    def _add(self, entry: Entry) -> None:
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered twice")
        module, sep, attr = entry.target.partition(":")
        if not (module and sep and attr):
            raise ValueError(
                f"{self.kind} {entry.name!r}: target {entry.target!r} is not 'module:attr'"
            )
        if not entry.summary or "\n" in entry.summary:
            raise ValueError(f"{self.kind} {entry.name!r}: the summary must be one non-empty line")
        self._entries[entry.name] = entry

    def names(self) -> tuple[str, ...]:
        """Every registered name, in table order."""
        return tuple(self._entries)

    def __contains__(self, name) -> bool:
        return name in self._entries

    def __iter__(self):
        return iter(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, name) -> str:
        """``name`` if registered, else an :class:`HwnasError` naming it and the allowed names."""
        if not isinstance(name, str) or name not in self._entries:
            raise HwnasError(f"{self.kind} {name!r} is unknown; allowed: {allowed(self.names())}")
        return name

    def entry(self, name) -> Entry:
        """The :class:`Entry` of a registered ``name`` (HwnasError for an unknown one)."""
        return self._entries[self.check(name)]

    def load(self, name):
        """Import and return the implementation of ``name`` (the attribute its target names)."""
        module, _, attr = self.entry(name).target.partition(":")
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    def describe(self, name) -> str:
        """The one-line summary of ``name``."""
        return self.entry(name).summary

    def choices_help(self) -> str:
        """Help text for a CLI option: ``name: summary; name: summary``."""
        return "; ".join(f"{e.name}: {e.summary}" for e in self)

    def markdown_table(self, header: str | None = None) -> str:
        """A Markdown table of names and summaries for README/docs (first column: ``header``)."""
        rows = [f"| {header or self.kind} | what |", "|---|---|"]
        rows += [f"| `{e.name}` | {e.summary} |" for e in self]
        return "\n".join(rows) + "\n"
