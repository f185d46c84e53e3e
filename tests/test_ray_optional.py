"""Ray is an optional extra: without it, ``--executor ray`` is a clear one-line error (exit 2).

"Without Ray" is made real by putting a ``ray`` package that fails to import first on the path of a
fresh process (the same ImportError a missing package gives); these tests run whether or not Ray is
installed here.
"""

from __future__ import annotations

import os
import sys
import textwrap

import pytest

from hwnas.errors import HwnasError
from hwnas.executor import EXECUTORS, make_executor

from .conftest import run_cli


@pytest.fixture
def no_ray(tmp_path):
    pkg = tmp_path / "block" / "ray"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\", name='ray')\n")
    return {
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "block"), os.environ.get("PYTHONPATH", "")])
    }


def test_make_executor_without_ray_is_a_clear_error(no_ray):
    code = textwrap.dedent("""
        from hwnas.errors import HwnasError
        from hwnas.executor import make_executor
        assert make_executor("local").name == "local"   # the default needs nothing
        try:
            make_executor("ray", address="127.0.0.1:1")
        except HwnasError as exc:
            print("ERR", exc)
    """)
    import subprocess

    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **no_ray},
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert (
        "ERR" in r.stdout and "pip install 'hwnas[ray]'" in r.stdout and "not installed" in r.stdout
    )


def test_cli_search_executor_ray_without_ray_exits_2(no_ray, tmp_path):
    r = run_cli(
        "search",
        "--executor",
        "ray",
        "--ray-address",
        "127.0.0.1:1",
        "--oracle",
        "zerocost",
        "--flops",
        "400M",
        "--queries",
        "10",
        "--algorithm",
        "random",
        "--out",
        tmp_path / "run",
        "--no-progress",
        env=no_ray,
        timeout=300,
    )
    assert r.returncode == 2, (r.stdout, r.stderr[-2000:])
    assert r.stderr.strip().splitlines()[-1].startswith("hwnas: error: --executor ray needs Ray")
    assert "pip install 'hwnas[ray]'" in r.stderr


def test_unknown_executor_names_the_allowed_ones():
    with pytest.raises(HwnasError, match="allowed: " + ", ".join(EXECUTORS.names())):
        make_executor("dask")


def test_bad_resource_amount_is_a_clear_error():
    ray_executor = pytest.importorskip(
        "hwnas.ray_executor", reason="Ray is not installed (pip install 'hwnas[ray]')"
    )
    assert ray_executor.task_options({"num_gpus": 1, "device:note10": 1}, 3) == {
        "num_cpus": 1,
        "num_gpus": 1,
        "max_retries": 3,
        "retry_exceptions": False,
        "resources": {"device:note10": 1.0},
        "scheduling_strategy": "SPREAD",
    }
    with pytest.raises(HwnasError, match="device:x"):
        ray_executor.task_options({"device:x": "one"}, 3)


def test_unreachable_or_malformed_ray_address_is_a_quick_clear_error(tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'hwnas[ray]')")
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HwnasError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        make_executor("ray", address=f"127.0.0.1:{port}")
    with pytest.raises(HwnasError, match="not HOST:PORT"):
        make_executor("ray", address="headnode")
    r = run_cli(
        "profile",
        "--executor",
        "ray",
        "--ray-address",
        f"127.0.0.1:{port}",
        "--device",
        "x",
        "--out",
        tmp_path / "x",
        "--no-progress",
        timeout=120,
    )
    assert r.returncode == 2 and "hwnas: error: no Ray cluster answers" in r.stderr, r.stderr[
        -2000:
    ]
