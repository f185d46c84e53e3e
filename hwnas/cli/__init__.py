"""The ``hwnas`` command: a thin layer over the Python API.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> dict``.
``run`` returns the result object; with ``--json`` it is printed as exactly one JSON object on
stdout, otherwise the module's ``human(result)`` text is printed. Modules import heavy libraries
inside ``run`` so that ``hwnas --help`` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import re
import sys

from ..errors import HwnasError
from ..notices import held

# name -> module implementing it. Order is the order of ``hwnas --help``.
COMMANDS = {
    "search": "hwnas.cli.search",
    "flops": "hwnas.cli.flops",
    "profile": "hwnas.cli.profile",
    "latency": "hwnas.cli.latency",
    "validate-latency": "hwnas.cli.validate_latency",
    "calibrate": "hwnas.cli.calibrate",
    "export": "hwnas.cli.export",
    "assets": "hwnas.cli.assets",
}


def _available():
    for name, modname in COMMANDS.items():
        try:
            yield name, importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:  # a real missing dependency inside an existing module
                raise


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


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = _Parser(prog="hwnas", description="Hardware-aware NAS over the OFA MobileNetV3 space.")
    parser.add_argument("--version", action="version", version=f"hwnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in _available():
        p = module.add_parser(sub)
        p.add_argument(
            "--json", action="store_true", help="print exactly one JSON object on stdout"
        )
        p.set_defaults(_module=module)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # With --json, stdout carries exactly one JSON object: anything else printed while the command
    # runs
    # (libraries' notices, e.g. Ray's worker messages) goes to stderr instead.
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
    sys.exit(main())
