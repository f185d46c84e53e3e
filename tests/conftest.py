import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def assets_dir():
    """OFA's shared assets, reached only through HWNAS_ASSETS."""
    path = os.environ.get("HWNAS_ASSETS")
    return Path(path) if path and Path(path).is_dir() else None


@pytest.fixture
def assets():
    path = assets_dir()
    if path is None:
        pytest.skip(
            "HWNAS_ASSETS is not set to OFA's shared assets folder (../shared/assets); "
            "this test needs them"
        )
    return path


def run_cli(*args, env=None, cwd=None, timeout=600):
    """Run ``hwnas`` as users do: a separate process. Returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "hwnas", *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
