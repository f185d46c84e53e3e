"""A non-editable install carries the packages of the user's layout and the shipped device data."""

import os
import subprocess
import sys

from .conftest import ROOT


def test_non_editable_install_finds_devices(tmp_path):
    target = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                            "--target", str(target), str(ROOT)], capture_output=True, text=True,
                           cwd=tmp_path, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    for pkg in ("hwnas", "latency", "predictors"):
        assert (target / pkg / "__init__.py").is_file(), pkg
    assert not (target / "devices").exists()  # shipped as hwnas.devices, not a stray top-level package
    code = ("import hwnas, latency, importlib.resources as r;"
            "assert 'site' in hwnas.__file__, hwnas.__file__;"
            "print(sorted(p.name for p in r.files('hwnas.devices').iterdir() if p.is_dir()));"
            "print(latency.known_devices())")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HWNAS_ASSETS")}
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    shipped, known = out.stdout.splitlines()
    assert "cpu-ort" in shipped and "cpu-ort" in known
