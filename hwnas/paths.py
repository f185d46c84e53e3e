"""Paths a user names: one-line errors saying what is wrong with them, before any work starts.

Input files must exist, be files (a directory is "is a directory", not "does not exist"), be
readable, and hold text where text is expected (UTF-8, a leading BOM accepted, not empty, not
binary).
Output files need an existing, writable folder and must not be directories.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import HwnasError


def input_file(path, what: str) -> Path:
    """``Path(path)`` if it is a readable file, else an :class:`HwnasError` naming what is wrong."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is a directory; give a file")
    if not p.exists():
        raise HwnasError(f"{what} {str(path)!r} does not exist")
    if not p.is_file():
        raise HwnasError(f"{what} {str(path)!r} is not a regular file")
    if not os.access(p, os.R_OK):
        raise HwnasError(f"{what} {str(path)!r} is not readable (permission denied)")
    return p


def read_text(path, what: str) -> str:
    """The text of a user's file: UTF-8 (a leading BOM dropped); empty or binary: errors."""
    p = input_file(path, what)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise HwnasError(f"{what} {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    if not data.strip():
        raise HwnasError(f"{what} {str(path)!r} is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HwnasError(f"{what} {str(path)!r} is not UTF-8 text (a binary file?)") from None
    if "\0" in text:
        raise HwnasError(f"{what} {str(path)!r} is not text (it holds NUL bytes: a binary file?)")
    return text


def parse_json(text: str, what: str):
    """``json.loads`` with one-line errors (malformed, absurdly nested)."""
    try:
        return json.loads(text[1:] if text.startswith("\ufeff") else text)
    except json.JSONDecodeError as exc:
        raise HwnasError(
            f"malformed JSON in {what}: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise HwnasError(f"JSON in {what} is nested too deeply") from None


def read_json(path, what: str = "file"):
    """:func:`parse_json` of :func:`read_text`."""
    return parse_json(read_text(path, what), f"{what} {str(path)!r}")


def read_yaml(path, what: str):
    """``yaml.safe_load`` of a user's file with one-line errors."""
    import yaml

    text = read_text(path, what)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HwnasError(
            f"{what} {str(path)!r} is not valid YAML: {str(exc).splitlines()[0]}"
        ) from None
    except RecursionError:
        raise HwnasError(f"{what} {str(path)!r} is nested too deeply") from None


def output_file(path, what: str) -> Path:
    """``Path(path)`` if a file can be written there: not a directory, in a writable folder."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is a directory; give a file path")
    parent = p.parent
    if not parent.exists():
        raise HwnasError(
            f"{what} {str(path)!r} is in a folder that does not exist: {str(parent)!r}"
        )
    if not parent.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is inside {str(parent)!r}, which is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise HwnasError(
            f"{what} {str(path)!r} cannot be written: folder {str(parent)!r} is not writable"
        )
    if p.exists() and not os.access(p, os.W_OK):
        raise HwnasError(f"{what} {str(path)!r} exists and is not writable")
    return p


def output_dir(path, what: str) -> Path:
    """``Path(path)`` if it is a folder or can be created as one (nothing is created here)."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is a file; give a folder")
    anc = p
    while not anc.exists() and anc != anc.parent:
        anc = anc.parent
    if not anc.is_dir():
        raise HwnasError(
            f"{what} {str(path)!r} cannot be created: {str(anc)!r} is a file, not a folder"
        )
    if not os.access(anc, os.W_OK | os.X_OK):
        raise HwnasError(
            f"{what} {str(path)!r} cannot be written: folder {str(anc)!r} is not writable"
        )
    return p


WEIGHTS_FIX = (
    "download OFA's supernet checkpoint again "
    "(e.g. ofa_mbv3_d234_e346_k357_w1.2 from OFA's model zoo)"
)


def check_checkpoint(path, what: str, fix: str = "") -> Path:
    """A PyTorch checkpoint that ``torch.load`` can open: a whole zip archive (or a legacy pickle).

    Cheap (reads the zip's directory, not its tensors), so it runs before any work starts; a damaged
    file is named with what is wrong and ``fix`` (how to get a good one), never PyTorch's own text.
    """
    import zipfile

    p = input_file(path, what)
    with open(p, "rb") as f:
        head = f.read(4)
    fix = f"; {fix}" if fix else ""
    if not head:
        raise HwnasError(f"{what} {str(path)!r} is empty, not a PyTorch checkpoint{fix}")
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(p) as z:
                z.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise HwnasError(
                f"{what} {str(path)!r} is a damaged PyTorch checkpoint (truncated or corrupted: "
                f"{exc}){fix}"
            ) from None
        return p
    if head[:1] != b"\x80":  # a legacy (pickle) checkpoint starts with the pickle protocol byte
        raise HwnasError(
            f"{what} {str(path)!r} is not a PyTorch checkpoint "
            f"(neither a zip archive nor a pickle){fix}"
        )
    return p
