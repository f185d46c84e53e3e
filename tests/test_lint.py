"""The linter, run by the test command: ruff with the rule set in pyproject.toml ([tool.ruff]).

One test per rule family; every file is clean under every rule. ``python tests/test_lint.py``
prints the counts per rule and per file.
"""

from __future__ import annotations

import collections
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ruff") is None,
    reason="ruff is not installed (pip install 'hwnas[dev]')",
)

# family -> rule-code prefixes
FAMILIES = {
    "pycodestyle (E, W; lines <= 100 columns)": ("E", "W"),
    "pyflakes (F)": ("F",),
    "import order (I)": ("I",),
    "bugbear (B)": ("B",),
    "public docstrings (D1)": ("D1",),
}


def ruff(*args: str, cwd: Path = ROOT) -> list[dict]:
    """Violations ruff reports (its JSON output), using the config in ``cwd``/pyproject.toml."""
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "json", *args]
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def where(v: dict) -> str:
    path = Path(v["filename"]).resolve().relative_to(ROOT)
    return f"{path}:{v['location']['row']}: {v['code']} {v['message']}"


_ALL: list[dict] | None = None


def all_violations() -> list[dict]:
    global _ALL
    if _ALL is None:
        _ALL = ruff(".")
    return _ALL


@pytest.mark.parametrize(
    "prefixes", [pytest.param(p, id=name.split(" (")[0]) for name, p in FAMILIES.items()]
)
def test_rule_family_is_clean(prefixes):
    found = [where(v) for v in all_violations() if v["code"].startswith(prefixes)]
    assert not found, f"{len(found)} violations:\n" + "\n".join(found)


def test_config_is_the_projects(tmp_path):
    """The rule set and the 100-column limit come from pyproject.toml, and ruff reports them."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "mod.py").write_text(
        '"""A module."""\n\nimport os\n\n\ndef public():\n    return "' + "x" * 90 + '"\n'
    )
    codes = sorted(v["code"] for v in ruff(".", cwd=tmp_path))
    assert codes == ["D103", "E501", "F401"]


def summary() -> str:
    found = all_violations()
    by_rule = collections.Counter(v["code"] for v in found)
    by_file = collections.Counter(str(Path(v["filename"]).relative_to(ROOT)) for v in found)
    lines = [f"ruff violations: {len(found)}", "", "per rule:"]
    lines += [f"  {n:5d}  {code}" for code, n in sorted(by_rule.items(), key=lambda x: -x[1])]
    lines += ["", "per file:"]
    lines += [
        f"  {n:5d}  {path}" for path, n in sorted(by_file.items(), key=lambda x: (-x[1], x[0]))
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
