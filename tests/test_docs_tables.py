"""The docs' member tables are the registries' own: one source of truth, checked per kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwnas.executor import EXECUTORS
from hwnas.search.algorithms import ALGORITHMS
from latency.profilers.registry import BACKENDS
from predictors.registry import ORACLES, PREDICTORS

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize(
    "doc, table, header",
    [
        ("predictors.md", ORACLES, "oracle"),
        ("predictors.md", PREDICTORS, "predictor"),
        ("latency.md", BACKENDS, "backend"),
        ("ray.md", EXECUTORS, "executor"),
        ("search.md", ALGORITHMS, "algorithm"),
    ],
)
def test_docs_table_is_the_generated_one(doc, table, header):
    text = (DOCS / doc).read_text(encoding="utf-8")
    generated = table.markdown_table(header)
    assert generated in text, (
        f"docs/{doc}: regenerate its {header} table with "
        f"{table.kind}s.markdown_table({header!r}):\n{generated}"
    )


def test_readme_search_usage_names_every_algorithm():
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "[--algorithm " + "|".join(ALGORITHMS.names()) + "]" in readme
