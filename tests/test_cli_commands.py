"""The CLI's COMMANDS table: ``hwnas --help`` lists every subcommand from it without importing any
subcommand module; a subcommand imports only its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hwnas.cli import COMMANDS, build_parser

COMMAND_MODULES = sorted(e.target.partition(":")[0] for e in COMMANDS)


def imported_after(argv: list[str]) -> tuple[str, list[str]]:
    """``hwnas ARGV`` in a fresh interpreter: its stdout and the command modules it imported."""
    code = (
        "import contextlib, io, json, sys\n"
        "from hwnas.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        f"seen = [m for m in {COMMAND_MODULES!r} if m in sys.modules]\n"
        "print(json.dumps([out.getvalue(), seen]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    text, modules = json.loads(done.stdout.splitlines()[-1])
    return text, modules


def test_help_lists_every_command_and_imports_none():
    text, modules = imported_after(["--help"])
    assert modules == []
    for entry in COMMANDS:
        assert entry.name in text
        assert " ".join(entry.summary.split()[:3]) in " ".join(text.split())


def test_a_command_imports_only_its_own_module():
    text, modules = imported_after(["flops", "--help"])
    assert modules == ["hwnas.cli.flops"]
    assert "--net-config" in text and "--json" in text


@pytest.mark.parametrize("name", COMMANDS.names())
def test_every_command_adds_its_arguments(name):
    parser = build_parser(name)
    sub = next(a for a in parser._actions if a.dest == "command")
    own = sub.choices[name]
    assert own.description, f"{name} has no description"
    assert any("--json" in a.option_strings for a in own._actions)
    others = [n for n in COMMANDS.names() if n != name]
    assert all(not sub.choices[n].description for n in others)


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """`hwnas flops ARCH | head -0`: stdout's reader is gone before the result is printed."""
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 160}))
    read, write = os.pipe()
    os.close(read)  # closed before the command starts: its first write fails, every time
    try:
        p = subprocess.run(
            [sys.executable, "-m", "hwnas", "flops", str(arch)],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write)
    assert p.stderr == "" and p.returncode == 1
