"""Hostile-input battery: every bad input gets exit 2 and one stderr line ``hwnas: error: ...``.

Each case is a real ``python -m hwnas ...`` process (real argv, stdout, stderr, exit code), run with
``--json`` appended: stdout must then stay empty (an error prints no JSON). ``{h}`` in an argument
is the folder of hostile files made by the ``hostile`` fixture. A search case must also leave no run
folder behind. Most cases fail before torch loads, which keeps the battery fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from hwnas.arch import Arch

from .conftest import run_cli

ARCH = Arch.largest(224)
ASSETS = os.environ.get("HWNAS_ASSETS")
HAS_ACC = bool(ASSETS) and (Path(ASSETS) / "ofa" / "acc_predictor.pth").is_file()

# path kinds every user-named input file is tried with
BAD_FILES = {
    "missing": "missing.json",
    "dir": "adir",
    "empty": "empty.json",
    "binary": "binary.bin",
    "nested": "nested.json",
}
BAD_MESSAGES = {
    "missing": "does not exist",
    "dir": "is a directory",
    "empty": "is empty",
    "binary": "not UTF-8 text",
    "nested": "nested too deeply",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    h = tmp_path_factory.mktemp("hostile")
    (h / "adir").mkdir()
    (h / "empty.json").write_text("")
    (h / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (h / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (h / "nested.yaml").write_text("[" * 100_000 + "]" * 100_000)
    (h / "bad.json").write_text('{"ks": [3, 5')
    (h / "arch.json").write_text(ARCH.to_json())
    (h / "half.json").write_text(json.dumps({**ARCH.to_dict(), "ks": [3.5] * 20}))
    (h / "afile.txt").write_text("not a folder\n")
    (h / "foreign").mkdir()
    (h / "foreign" / "history.csv").write_text("my,own,data\n")
    (h / "corrupt.pth").write_bytes(b"PK\x03\x04 this is not a checkpoint" * 10)
    (h / "bad.yaml").write_text("flops: [600M\n")
    (h / "list.yaml").write_text("- 1\n- 2\n")
    (h / "unknown.yaml").write_text("flops: 600M\nmagic: 1\n")
    (h / "noheader.csv").write_text("a,b\n1,2\n")
    return h


def _search(*args):
    return ("search", "--flops", "600M", "--queries", "5", "--out", "{h}/run", *args)


CASES = {
    # -- argparse's own errors, every subcommand --------------------------------------------------
    "no-command": ((), "required: COMMAND"),
    "unknown-command": (("nothing",), "invalid choice"),
    "search-negative-flops": (("search", "--flops", "-5M"), "'-5M' is not a count"),
    "search-queries-x": (("search", "--queries", "x"), "invalid int value: 'x'"),
    "search-unknown-flag": (("search", "--bogus"), "unrecognized arguments: --bogus"),
    "search-resolutions-x": (("search", "--resolutions", "a,b"), "comma-separated list"),
    "flops-unknown-flag": (("flops", "--bogus"), "unrecognized arguments"),
    "latency-missing-device": (("latency", "{h}/arch.json"), "required: --device"),
    "profile-missing-device": (("profile",), "required: --device"),
    "profile-bad-backend": (("profile", "--device", "d", "--backend", "x"), "invalid choice"),
    "profile-out-is-a-file": (("profile", "--device", "d", "--out", "{h}/afile.txt"), "afile.txt"),
    "validate-missing-device": (("validate-latency",), "required: --device"),
    "export-missing-onnx": (("export", "{h}/arch.json"), "required: --onnx"),
    "assets-bad-action": (("assets", "burn"), "invalid choice"),
    # -- search settings --------------------------------------------------------------------------
    "search-seed-negative": (_search("--seed", "-1"), "--seed -1 is not allowed"),
    "search-queries-zero": (_search("--queries", "0"), "--queries 0"),
    "search-unknown-algorithm": (_search("--algorithm", "magic"), "algorithm 'magic' is unknown"),
    "search-unknown-oracle": (_search("--oracle", "magic"), "oracle 'magic' is unknown"),
    "search-unknown-predictor-random": (
        _search("--algorithm", "random", "--predictor", "nope"),
        "predictor 'nope' is unknown",
    ),
    "search-unknown-predictor-evolution": (
        _search("--algorithm", "evolution", "--predictor", "nope"),
        "predictor 'nope' is unknown",
    ),
    "search-predictor-random-reads-none": (
        _search("--algorithm", "random", "--predictor", "xgb"),
        "--predictor 'xgb' is not used by this search; it needs --algorithm weaknas",
    ),
    "search-predictor-paper-uses-its-own": (
        _search("--algorithm", "weaknas-pool", "--predictor", "linear"),
        "--predictor 'linear' is not used",
    ),
    "search-option-two-objectives-do-not-read": (
        _search("--objectives", "acc,flops", "--option", "trust_region=true"),
        "--option trust_region=true is not used by this search; it needs a single objective",
    ),
    "search-bad-width": (_search("--width", "0.7"), "width 0.7"),
    "search-bad-objectives": (_search("--objectives", "acc,joy"), "objectives 'acc,joy'"),
    "search-latency-without-device": (_search("--latency", "25ms"), "device"),
    "search-infinite-flops": (_search("--flops", "1e400"), "is not finite"),
    "search-unused-ray-address": (_search("--ray-address", "1.2.3.4:1"), "needs --executor ray"),
    "search-unused-table": (
        _search("--oracle", "zerocost", "--table", "{h}/noheader.csv"),
        "needs --oracle table or --oracle surrogate",
    ),
    "search-unused-data": (_search("--data", "{h}/adir"), "needs --oracle supernet"),
    "search-unused-oracle-device": (
        _search("--oracle", "ofa-mlp", "--oracle-device", "cuda"),
        "--oracle-device 'cuda' is not used by this search; it needs --oracle supernet or "
        "--oracle zerocost (or auto)",
    ),
    "search-unused-weights": (
        _search("--weights", "{h}/corrupt.pth"),
        "--oracle supernet or --export-onnx",
    ),
    "search-unused-device": (
        _search("--device", "cpu-ort"),
        "--latency, --objectives acc,latency",
    ),
    "search-unused-acc-predictor": (
        _search("--oracle", "zerocost", "--acc-predictor", "{h}/corrupt.pth"),
        "needs --oracle ofa-mlp",
    ),
    "search-unreachable-budget": (("search", "--flops", "1K", "--out", "{h}/run"), "smallest"),
    "search-bad-resolution": (_search("--resolutions", "100"), "100"),
    "search-config-bad-yaml": (_search("--config", "{h}/bad.yaml"), "not valid YAML"),
    "search-config-list": (_search("--config", "{h}/list.yaml"), "mapping"),
    "search-config-unknown": (_search("--config", "{h}/unknown.yaml"), "unknown setting 'magic'"),
    "search-config-nested": (_search("--config", "{h}/nested.yaml"), "nested too deeply"),
    "search-table-missing-columns": (
        _search("--oracle", "table", "--table", "{h}/noheader.csv"),
        "arch, accuracy",
    ),
    "search-supernet-no-data": (
        _search("--oracle", "supernet", "--weights", "{h}/corrupt.pth"),
        "--data",
    ),
    # -- search's run folder and outputs ----------------------------------------------------------
    "search-out-is-a-file": (("search", "--flops", "600M", "--out", "{h}/afile.txt"), "is a file"),
    "search-out-foreign-files": (
        ("search", "--flops", "600M", "--out", "{h}/foreign"),
        "'history.csv'",
    ),
    "search-out-under-a-file": (
        ("search", "--flops", "600M", "--out", "{h}/afile.txt/run"),
        "not a folder",
    ),
    "search-resume-missing": (("search", "--resume", "--out", "{h}/missing"), "does not exist"),
    "search-resume-no-run": (
        ("search", "--resume", "--out", "{h}/adir"),
        "holds no hwnas run (it has no run.yaml)",
    ),
    "search-resume-without-out": (("search", "--resume"), "--resume needs --out"),
    "search-export-onnx-dir": (_search("--export-onnx", "{h}/adir"), "is a directory"),
    "search-export-onnx-no-folder": (
        _search("--export-onnx", "{h}/nope/best.onnx"),
        "folder that does not exist",
    ),
    "search-export-onnx-suffix": (_search("--export-onnx", "{h}/best.txt"), "must end in .onnx"),
    # -- arch JSON --------------------------------------------------------------------------------
    "flops-no-arch": (("flops",), "exactly one of ARCH"),
    "flops-bad-json": (("flops", "{h}/bad.json"), "malformed JSON"),
    "flops-half-kernel": (("flops", "{h}/half.json"), "kernel size 3.5 at ks[0]"),
    "flops-bad-width": (("flops", "{h}/arch.json", "--width", "3"), "width"),
    "flops-net-config-no-resolution": (("flops", "--net-config", "{h}/arch.json"), "--resolution"),
    "latency-unknown-device": (("latency", "{h}/arch.json", "--device", "{h}/missing"), "missing"),
    "latency-device-is-a-file": (
        ("latency", "{h}/arch.json", "--device", "{h}/afile.txt"),
        "afile.txt",
    ),
    # -- export -----------------------------------------------------------------------------------
    "export-onnx-dir": (("export", "{h}/arch.json", "--onnx", "{h}/adir"), "is a folder"),
    "export-onnx-no-folder": (
        ("export", "{h}/arch.json", "--onnx", "{h}/nope/x.onnx"),
        "does not exist",
    ),
    "export-source-missing": (
        ("export", "{h}/missing.json", "--onnx", "{h}/x.onnx"),
        "does not exist",
    ),
    "export-bad-pick": (("export", "{h}/adir", "--pick", "x", "--onnx", "{h}/x.onnx"), "--pick"),
    "export-corrupt-weights": (
        ("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--weights", "{h}/corrupt.pth"),
        "corrupt.pth",
    ),
    "export-latency-runs-zero": (
        ("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--latency-runs", "0"),
        "--latency-runs 0",
    ),
    "export-old-opset": (("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--opset", "5"), "5"),
    "export-unused-calib-images": (
        ("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--calib-images", "0"),
        "give --calib-data DIR too",
    ),
    # -- assets -----------------------------------------------------------------------------------
    "assets-list-force": (("assets", "list", "--force"), "--force applies to `hwnas assets fetch`"),
    "assets-dest-is-a-file": (
        ("assets", "fetch", "--only", "acc-predictor", "--force", "--dest", "{h}/afile.txt"),
        "afile.txt",
    ),
    "assets-bad-url": (
        (
            "assets",
            "fetch",
            "--only",
            "acc-predictor",
            "--force",
            "--dest",
            "{h}/dl",
            "--base-url",
            "nota://url",
        ),
        "nota://url",
    ),
    "assets-refused-url": (
        (
            "assets",
            "fetch",
            "--only",
            "acc-predictor",
            "--force",
            "--dest",
            "{h}/dl",
            "--base-url",
            "http://127.0.0.1:9",
        ),
        "127.0.0.1:9",
    ),
}

# every path a user names as an input file, tried missing / a directory / empty / binary / nested
FILE_ARGS = {
    "flops-arch": ("flops", "{f}"),
    "flops-net-config": ("flops", "--net-config", "{f}", "--resolution", "224"),
    "latency-arch": ("latency", "{f}", "--device", "cpu-ort"),
    "export-source": ("export", "{f}", "--onnx", "{h}/x.onnx"),
    "export-weights": ("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--weights", "{f}"),
    "search-config": _search("--config", "{f}"),
    "search-acc-predictor": _search("--oracle", "ofa-mlp", "--acc-predictor", "{f}"),
    "search-table": _search("--oracle", "table", "--table", "{f}"),
}
for arg, argv in FILE_ARGS.items():
    for kind, name in BAD_FILES.items():
        if kind == "nested" and arg in ("export-weights", "search-acc-predictor", "search-table"):
            continue  # not JSON/YAML: nesting means nothing to them
        msg = BAD_MESSAGES[kind]
        if kind in ("empty", "binary", "nested") and arg in (
            "export-weights",
            "search-acc-predictor",
        ):
            msg = "checkpoint" if kind != "nested" else msg
        if arg == "export-source" and kind == "dir":
            msg = "has no best.json"  # a folder SOURCE is a run folder
        CASES[f"{arg}-{kind}"] = (tuple(a.replace("{f}", "{h}/" + name) for a in argv), msg)

# profile and validate-latency flags
CASES.update(
    {
        "profile-rounds-zero": (
            ("profile", "--device", "d", "--out", "{h}/prof", "--rounds", "0"),
            "rounds 0 is not allowed",
        ),
        "validate-samples-zero": (
            ("validate-latency", "--device", "cpu-ort", "--samples", "0", "--no-write"),
            "samples 0 is not allowed",
        ),
    }
)


def _check(h, args, expect, json_flag=True, timeout=300):
    run = f"run-{abs(hash(args))}"  # each search case its own --out, checked to stay absent
    argv = [str(a).replace("{h}/run", str(h / run)).replace("{h}", str(h)) for a in args]
    argv += ["--json"] if json_flag and args else []
    r = run_cli(*argv, env={"HWNAS_CACHE": str(h / "cache")}, timeout=timeout)
    lines = r.stderr.splitlines()
    assert r.returncode == 2, f"exit {r.returncode}; stderr tail: {r.stderr[-1500:]}"
    assert len(lines) == 1 and lines[0].startswith("hwnas: error: "), r.stderr[-1500:]
    assert expect.replace("{h}", str(h)) in lines[0], lines[0]
    assert r.stdout == "", r.stdout[:500]  # with --json: an error prints no JSON object
    if "{h}/run" in args:
        assert not (h / run).exists(), "a refused search left a run folder behind"
    return lines[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(hostile, name):
    args, expect = CASES[name]
    _check(hostile, args, expect)


def test_without_json_the_error_is_the_same_one_line(hostile):
    line = _check(
        hostile,
        ("search", "--flops", "600M", "--out", "{h}/foreign"),
        "'history.csv'",
        json_flag=False,
    )
    assert "choose a new or empty folder" in line


@pytest.mark.skipif(not HAS_ACC, reason="OFA's acc_predictor.pth not found: set HWNAS_ASSETS")
def test_a_setting_auto_resolves_away_from_is_named_by_its_flag(hostile):
    # auto may stand for zerocost, which reads --oracle-device, so only make_oracle can tell
    _check(
        hostile,
        _search("--oracle-device", "cuda"),
        "oracle 'auto' (here 'ofa-mlp') does not use --oracle-device 'cuda'; "
        "it reads: --acc-predictor",
    )


@pytest.mark.skipif(not HAS_ACC, reason="OFA's acc_predictor.pth not found: set HWNAS_ASSETS")
def test_corrupted_predictor_names_its_sha256_and_the_fix(hostile, tmp_path):
    data = (Path(ASSETS) / "ofa" / "acc_predictor.pth").read_bytes()
    cut = tmp_path / "acc_predictor.pth"
    cut.write_bytes(data[: len(data) // 2])
    line = _check(tmp_path, _search("--oracle", "ofa-mlp", "--acc-predictor", str(cut)), "sha256")
    assert "hwnas assets fetch --force" in line and "48685122a354" in line
    assert "warning" not in line.lower() and "weights_only" not in line


def test_bom_and_integral_floats_are_accepted(tmp_path):
    obj = {
        **ARCH.to_dict(),
        "ks": [float(k) for k in ARCH.ks],
        "e": [float(e) for e in ARCH.e],
        "d": [float(d) for d in ARCH.d],
        "r": 224.0,
    }
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps(obj).encode())
    r = run_cli("flops", p, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["arch_id"] == ARCH.id
    from predictors.table import read_table, write_table

    table = tmp_path / "acc.csv"
    write_table(table, ARCH.to_array()[None], [0.7])
    plain = read_table(table)
    table.write_bytes(b"\xef\xbb\xbf" + table.read_bytes())
    assert read_table(table) == plain == {ARCH.id: (0.7, 0.0)}
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(
        b"\xef\xbb\xbfflops: 600M\nseed: -1\n"
    )  # the BOM is read past; the bad seed is reported
    r = run_cli("search", "--config", cfg, "--out", tmp_path / "run", "--json")
    assert (
        r.returncode == 2
        and r.stderr.strip()
        == "hwnas: error: --seed -1 is not allowed; allowed: integers 0..2**63-1"
    )
    assert not (tmp_path / "run").exists()


def test_every_case_table_entry_is_distinct():
    argvs = [tuple(a) for a, _ in CASES.values()]
    assert len(argvs) == len(set(argvs)) and sys.executable


def test_a_checkpoint_with_unsafe_objects_is_named_without_pytorch_text(hostile, tmp_path):
    import torch

    bad = tmp_path / "unsafe.pth"
    torch.save({"w": torch.zeros(2), "f": print}, bad)  # weights_only refuses the function
    args = ("export", "{h}/arch.json", "--onnx", "{h}/x.onnx", "--weights", str(bad))
    line = _check(hostile, args, "unsafe.pth")
    assert "Weights only load failed" not in line and "\x1b[" not in line
