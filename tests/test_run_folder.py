"""Run folders: one search at a time (a lock), no foreign files mixed in, resumed only as started.

The lock is tested with two real processes: a search running in one, a second search (and a
``--resume``) into the same folder from the CLI in another; then the first is killed with SIGKILL
and a ``--resume`` must not be blocked by the lock it left.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hwnas.errors import HwnasError
from hwnas.search import SearchConfig, resume_config, run_search
from hwnas.space import Space

from .conftest import ROOT, run_cli
from .ray_helpers import SleepOracle

FAST = dict(flops="600M", algorithm="random", seed=1)


def _search(out, oracle=None, resume=False, **kw):
    cfg = resume_config(out, kw) if resume else SearchConfig(**{**FAST, **kw}, out=str(out))
    return run_search(cfg, oracle=oracle or SleepOracle(Space()), resume=resume)


def _history(out):
    with open(Path(out) / "history.csv", newline="") as f:
        return [(r["arch_id"], r["accuracy"]) for r in csv.DictReader(f)]


def _one_error_line(r):
    assert r.returncode == 2, r.stderr[-1500:]
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("hwnas: error: "), r.stderr[-1500:]
    return lines[0]


_RUNNER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {root!r})
    from hwnas.search import SearchConfig, resume_config, run_search
    from hwnas.space import Space
    from tests.ray_helpers import SleepOracle
    out, resume = sys.argv[1], sys.argv[2] == "resume"
    cfg = (resume_config(out) if resume else
           SearchConfig(flops="600M", algorithm="random", seed=1, queries=200, out=out))
    oracle = SleepOracle(Space(), seconds=0.0 if resume else 0.1)
    res = run_search(cfg, oracle=oracle, resume=resume)
    print(res["queries"])
""")


def test_a_second_search_into_a_running_folder_is_refused_and_kill_9_leaves_no_stale_lock(tmp_path):
    out = tmp_path / "run"
    script = tmp_path / "runner.py"
    script.write_text(_RUNNER.format(root=str(ROOT)))
    first = subprocess.Popen(
        [sys.executable, str(script), str(out), "new"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 120
        while (
            not (out / "evals.sqlite").exists() and time.monotonic() < end and first.poll() is None
        ):
            time.sleep(0.1)
        assert first.poll() is None, first.communicate()[1][-2000:]
        second = run_cli(
            "search", "--flops", "600M", "--algorithm", "random", "--seed", "2", "--out", out
        )
        resumed = run_cli("search", "--resume", "--out", out)
        assert first.poll() is None, (
            "the first search ended before the second was tried: the test proved nothing"
        )
        for r in (second, resumed):
            line = _one_error_line(r)
            assert f"{str(out)!r} is in use by another hwnas search (pid {first.pid})" in line
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    done = subprocess.run(
        [sys.executable, str(script), str(out), "resume"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "200" and len(_history(out)) == 200


def test_foreign_files_are_refused_and_left_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "history.csv").write_text("my,own\n1,2\n")
    (out / "best.json").write_text('{"mine": true}\n')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(
        HwnasError, match=r"holds files that are not an hwnas run \(e.g. 'best.json'\)"
    ):
        _search(out, queries=5)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _search(empty, queries=5)["queries"] == 5  # an empty folder is fine
    with pytest.raises(HwnasError, match="already holds a run; add --resume"):
        _search(empty, queries=5)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("stored") / "run"
    _search(out, queries=12)
    return out


@pytest.mark.parametrize(
    "flags, mine, theirs",
    [
        (("--flops", "500M"), "--flops 500M", "600M"),
        (("--seed", "4"), "--seed 4", "1"),
        (("--algorithm", "evolution"), "--algorithm evolution", "random"),
        (("--oracle", "zerocost"), "--oracle zerocost", "auto"),
        (("--width", "1.0"), "--width 1.0", "1.2"),
        (("--objectives", "acc,flops"), "--objectives acc,flops", "acc"),
        (("--resolutions", "160,224"), "--resolutions 160,224", "160,176,192,208,224"),
        (("--params", "8M"), "--params 8M", "(not set)"),
        (("--queries", "5"), "--queries 5", "12"),
    ],
)
def test_resume_with_a_conflicting_flag_names_both_values(stored_run, flags, mine, theirs):
    before = (stored_run / "run.yaml").read_bytes()
    line = _one_error_line(run_cli("search", "--resume", "--out", stored_run, *flags))
    assert f"{mine} conflicts with the run's {theirs} (run.yaml)" in line
    assert (stored_run / "run.yaml").read_bytes() == before


def test_resume_with_another_predictor_conflicts_and_on_a_run_that_reads_none_is_unused(
    stored_run, tmp_path
):
    weak = tmp_path / "weak"
    _search(weak, algorithm="weaknas", queries=21)
    before = (weak / "run.yaml").read_bytes()
    line = _one_error_line(run_cli("search", "--resume", "--out", weak, "--predictor", "xgb"))
    assert "--predictor xgb conflicts with the run's gp (run.yaml)" in line
    assert (weak / "run.yaml").read_bytes() == before
    before = (stored_run / "run.yaml").read_bytes()  # a random search: no weak predictor
    line = _one_error_line(run_cli("search", "--resume", "--out", stored_run, "--predictor", "xgb"))
    assert "--predictor 'xgb' is not used by this search; it needs --algorithm weaknas" in line
    assert (stored_run / "run.yaml").read_bytes() == before


def test_resume_refuses_a_config_file_and_a_folder_without_run_yaml(stored_run, tmp_path):
    line = _one_error_line(
        run_cli("search", "--resume", "--out", stored_run, "--config", stored_run / "run.yaml")
    )
    assert "--config cannot be used with --resume" in line
    (tmp_path / "x").mkdir()
    line = _one_error_line(run_cli("search", "--resume", "--out", tmp_path / "x"))
    assert "holds no hwnas run (it has no run.yaml)" in line and "config file" not in line


@pytest.mark.parametrize("algorithm", ["random", "weaknas"])
def test_raising_queries_on_resume_continues_to_a_fresh_run_of_the_larger_budget(
    tmp_path, algorithm
):
    _search(tmp_path / "cont", algorithm=algorithm, queries=20)
    measured = {a for a, _ in _history(tmp_path / "cont")}
    logs = tmp_path / "log"
    logs.mkdir()
    more = _search(
        tmp_path / "cont", oracle=SleepOracle(Space(), log_dir=logs), resume=True, queries=35
    )
    fresh = _search(tmp_path / "fresh", algorithm=algorithm, queries=35)
    assert _history(tmp_path / "cont") == _history(tmp_path / "fresh")
    assert more["best"] == fresh["best"] and more["queries"] == 35
    # stored answers were read back: the oracle was asked only for archs new to the 35-query run
    new = [a for a, _ in _history(tmp_path / "fresh") if a not in measured]
    starts = [
        line for line in (logs / "events.jsonl").read_text().splitlines() if '"start"' in line
    ]
    assert more["oracle_asked"] == len(starts) == len(new) > 0
    assert (
        SearchConfig.load(tmp_path / "cont" / "run.yaml").queries == 35
    )  # a later --resume keeps 35


def test_resume_refuses_a_recalibrated_device(tmp_path):
    import shutil

    import yaml

    dev = tmp_path / "dev"
    shutil.copytree(ROOT / "devices" / "cpu-ort", dev)
    out = tmp_path / "run"
    _search(out, queries=8, latency_ms="25ms", device=str(dev))
    original = (dev / "device.yaml").read_text()
    doc = yaml.safe_load(original)
    doc["correction"]["slope"] *= 1.1  # what `hwnas calibrate` would write
    (dev / "device.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    before = (out / "run.yaml").read_bytes()
    with pytest.raises(HwnasError, match=r"the --device's latency tables or correction changed"):
        _search(out, resume=True, queries=12)
    assert (out / "run.yaml").read_bytes() == before
    (dev / "device.yaml").write_text(original)  # restored: the run continues
    assert _search(out, resume=True, queries=12)["queries"] == 12


@pytest.mark.parametrize(
    "algorithm,stale,shown",
    [
        ("random", {"predictor": "xgb"}, "--predictor xgb"),  # random search fits no predictor
        ("weaknas", {"options": {"tr_init": 8}}, "--option tr_init=8"),  # no trust region
    ],
)
def test_resume_drops_a_stored_setting_the_run_never_read(
    tmp_path, capsys, algorithm, stale, shown
):
    """run.yaml of a version that let an unread setting through: the run resumes, exactly."""
    import yaml

    out = tmp_path / "old"
    _search(out, algorithm=algorithm, queries=20)
    doc = yaml.safe_load((out / "run.yaml").read_text())
    for key, value in stale.items():  # what the older version would have stored
        doc["settings"][key] = {**doc["settings"][key], **value} if key == "options" else value
    (out / "run.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(HwnasError, match=f"{shown.split()[0]}.* is not used by this search"):
        SearchConfig.load(out / "run.yaml")  # a new run with those settings is refused
    capsys.readouterr()
    more = _search(out, resume=True, queries=30)
    err = capsys.readouterr().err
    assert err.count(f"sets {shown}, which this search never read; resuming without it") == 1
    fresh = _search(tmp_path / "fresh", algorithm=algorithm, queries=30)
    assert _history(out) == _history(tmp_path / "fresh") and more["best"] == fresh["best"]
