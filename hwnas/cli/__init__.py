"""The ``hwnas`` command: a thin layer over the Python API.

Each subcommand lives in its own module with ``add_arguments(parser)`` and ``run(args) -> dict``.
``run`` returns the result object; with ``--json`` it is printed as exactly one JSON object on
stdout, otherwise the module's ``human(result)`` text is printed. Only the module of the subcommand
that runs is imported (``COMMANDS``), so ``hwnas --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys

from .. import __version__
from ..errors import HwnasError
from ..notices import held
from ..registry import Registry

# One line per subcommand; its module (``add_arguments(p)``, ``run``, ``human``) is imported only
# when that subcommand runs, so ``hwnas --help`` imports none of them. Order is ``--help``'s order.
COMMANDS = Registry(
    "command",
    [
        (
            "search",
            "hwnas.cli.search:add_arguments",
            "search the OFA space under FLOPs/latency/params budgets",
        ),
        ("flops", "hwnas.cli.flops:add_arguments", "MACs (OFA 'FLOPs') and parameters of a subnet"),
        (
            "profile",
            "hwnas.cli.profile:add_arguments",
            "build a device's latency lookup tables (resumable)",
        ),
        (
            "latency",
            "hwnas.cli.latency:add_arguments",
            "predicted latency (ms) of a subnet on a device",
        ),
        (
            "validate-latency",
            "hwnas.cli.validate_latency:add_arguments",
            "check a device's tables against end-to-end measurements",
        ),
        (
            "calibrate",
            "hwnas.cli.calibrate:add_arguments",
            "fit a table built elsewhere to this machine (few end-to-end runs)",
        ),
        ("export", "hwnas.cli.export:add_arguments", "export a subnet to a verified ONNX file"),
        (
            "assets",
            "hwnas.cli.assets:add_arguments",
            "find or download OFA's accuracy predictor and note10 latency tables",
        ),
    ],
)


class _Parser(argparse.ArgumentParser):
    """argparse's own errors (a bad number, an unknown or missing flag) in the one-line form, exit
    2.

    Subcommand parsers are made from the same class, so this holds for every subcommand. A value
    that starts like a negative number (``--flops -5M``) is a value, so its own check names it.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(r"^-\.?\d")

    def error(self, message):
        sys.stderr.write(f"hwnas: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")
        sys.exit(2)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``hwnas`` parser. Every subcommand is listed with its summary; only ``command``'s module
    is imported and adds its arguments (``None``: none, enough for ``hwnas --help``)."""
    parser = _Parser(prog="hwnas", description="Hardware-aware NAS over the OFA MobileNetV3 space.")
    parser.add_argument("--version", action="version", version=f"hwnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for entry in COMMANDS:
        p = sub.add_parser(entry.name, help=entry.summary)
        if entry.name == command:
            add_arguments = COMMANDS.load(entry.name)
            add_arguments(p)
            p.add_argument(
                "--json", action="store_true", help="print exactly one JSON object on stdout"
            )
            p.set_defaults(_module=sys.modules[add_arguments.__module__])
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top level has no
    option taking a value), if that is a command."""
    first = next((a for a in argv if not a.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command(argv)).parse_args(argv)
    # With --json, stdout carries exactly one JSON object: anything else printed while the command
    # runs (libraries' notices, e.g. Ray's worker messages) goes to stderr instead.
    real_stdout = sys.stdout
    try:
        with (
            contextlib.redirect_stdout(sys.stderr if args.json else real_stdout),
            held() as notices,
        ):
            result = args._module.run(args)
        for line in notices:  # after success only: a failing command prints exactly its error line
            print(line, file=sys.stderr)
    except HwnasError as exc:
        print(f"hwnas: error: {exc}", file=sys.stderr)
        return 2
    # a file the checks could not foresee (disk full, a file vanished): still one line
    except OSError as exc:
        where = f" {exc.filename!r}" if exc.filename else ""
        print(f"hwnas: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hwnas: interrupted; everything measured so far is saved", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, default=_jsonable), file=real_stdout)
    else:
        print(args._module.human(result))
    return 0


def _jsonable(obj):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(obj)


def console() -> None:  # console-script entry point
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader of stdout went away (`hwnas search ... | head -1`): whatever the command
        # wrote to files is complete; no traceback, and none again from the flush at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    sys.exit(code)
