"""The generic Registry: lazy loading, one-line errors naming the allowed names, derived tables."""

import sys

import pytest

from hwnas.errors import HwnasError
from hwnas.registry import Registry

TABLE = Registry(
    "colour",
    [
        ("json", "json:dumps", "dump JSON to a string"),
        ("join", "os.path:join", "join path parts"),
        ("nested", "collections:OrderedDict.fromkeys", "a nested attribute"),
    ],
)


def test_names_keep_table_order():
    assert TABLE.names() == ("json", "join", "nested")
    assert len(TABLE) == 3 and "join" in TABLE and "nope" not in TABLE


def test_load_imports_the_target_lazily():
    sys.modules.pop("wave", None)
    lazy = Registry("codec", [("wave", "wave:open", "WAV files")])
    assert "wave" not in sys.modules  # building the table imports nothing
    import wave

    assert lazy.load("wave") is wave.open
    import collections
    import json

    assert TABLE.load("json") is json.dumps
    assert TABLE.load("nested") == collections.OrderedDict.fromkeys


@pytest.mark.parametrize("bad", ["nope", "", None, 3, "JSON"])
def test_unknown_name_is_one_line_error_naming_allowed(bad):
    with pytest.raises(HwnasError) as err:
        TABLE.load(bad)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg == f"colour {bad!r} is unknown; allowed: json, join, nested"


def test_check_returns_a_known_name():
    assert TABLE.check("join") == "join"


def test_describe_and_help():
    assert TABLE.describe("join") == "join path parts"
    assert TABLE.choices_help() == (
        "json: dump JSON to a string; join: join path parts; nested: a nested attribute"
    )


def test_markdown_table():
    md = TABLE.markdown_table("format")
    assert md.splitlines() == [
        "| format | what |",
        "|---|---|",
        "| `json` | dump JSON to a string |",
        "| `join` | join path parts |",
        "| `nested` | a nested attribute |",
    ]
    assert TABLE.markdown_table().startswith("| colour | what |")


@pytest.mark.parametrize(
    "entries, says",
    [
        ([("a", "json:dumps", "x"), ("a", "json:loads", "y")], "registered twice"),
        ([("a", "json.dumps", "x")], "not 'module:attr'"),
        ([("a", ":dumps", "x")], "not 'module:attr'"),
        ([("a", "json:dumps", "")], "one non-empty line"),
        ([("a", "json:dumps", "two\nlines")], "one non-empty line"),
    ],
)
def test_bad_tables_fail_when_built(entries, says):
    with pytest.raises(ValueError, match=says):
        Registry("thing", entries)


def test_missing_attribute_fails_on_load_not_on_build():
    reg = Registry("thing", [("ghost", "json:no_such_function", "missing")])
    with pytest.raises(AttributeError):
        reg.load("ghost")
