"""A plain (non-editable) install works: every package and the shipped data are in it, and the three
jobs (search, profile, validate-latency) run from it, outside the checkout.

The project is copied to a scratch folder first and built there (without build isolation, so no
network), so the test neither reads a stale ``build/`` folder nor writes into the checkout.
"""

import json
import os
import shutil
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest
import tomllib

from .conftest import ROOT, assets_dir

_NOT_SHIPPED = (
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "runs",
    "__pycache__",
    ".pytest_cache",
)


def _source_packages() -> dict:
    """``{package name: source folder}`` of every package the project ships, from the checkout."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = cfg["packages"]["find"]["include"]
    found = {}
    for folder, dirs, files in os.walk(ROOT, followlinks=True):  # hwnas/devices links to devices/
        dirs[:] = [d for d in dirs if not any(fnmatch(d, pat) for pat in _NOT_SHIPPED)]
        name = ".".join(Path(folder).relative_to(ROOT).parts)
        if "__init__.py" in files and any(fnmatch(name, pat) for pat in patterns):
            found[name] = Path(folder)
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(target folder, pip output)``: the project installed non-editable into a fresh target."""
    tmp = tmp_path_factory.mktemp("install")
    src, target = tmp / "src", tmp / "site"
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(*_NOT_SHIPPED))
    pip = [sys.executable, "-m", "pip", "install", "-v", "--no-deps", "--no-build-isolation"]
    build = subprocess.run(
        pip + ["--target", str(target), str(src)],
        capture_output=True,
        text=True,
        cwd=tmp,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    return target, build.stdout + build.stderr


def _env(target, assets: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HWNAS_ASSETS")}
    env["PYTHONPATH"] = str(target)
    if assets and assets_dir() is not None:
        env["HWNAS_ASSETS"] = str(assets_dir())
    return env


def _hwnas(target, cwd, *args, assets=False):
    """The installed console script, run in ``cwd`` with only ``target`` and the venv importable."""
    out = subprocess.run(
        [str(target / "bin" / "hwnas"), *map(str, args), "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_env(target, assets),
        timeout=600,
    )
    assert out.returncode == 0, f"hwnas {' '.join(map(str, args))}: {out.stderr[-2000:]}"
    return json.loads(out.stdout)


def test_install_prints_no_deprecation_warning(installed):
    _, log = installed
    assert "Successfully installed hwnas" in log
    warnings = [line for line in log.splitlines() if "deprecat" in line.lower()]
    assert not warnings, warnings[:5]


def test_every_package_and_module_is_installed_and_imports(installed, tmp_path):
    target, _ = installed
    packages = _source_packages()
    assert {
        "hwnas",
        "hwnas.cli",
        "hwnas.search",
        "hwnas.devices",
        "latency",
        "latency.profilers",
        "predictors",
    } <= set(packages)
    missing = [
        f"{name}/{py.name}"
        for name, folder in packages.items()
        for py in folder.glob("*.py")
        if not (target / name.replace(".", "/") / py.name).is_file()
    ]
    assert not missing, f"modules missing from the install: {missing}"
    assert not (target / "devices").exists()  # shipped as hwnas.devices, not as a top-level package
    code = (
        "import importlib, json, sys\n"
        "names = json.loads(sys.argv[1])\n"
        "files = {n: importlib.import_module(n).__file__ for n in names}\n"
        "import latency, importlib.resources as r\n"
        "print(json.dumps({'files': files, 'known': latency.known_devices(),\n"
        "    'shipped': [p.name for p in r.files('hwnas.devices').iterdir()]}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(sorted(packages))],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_env(target, False),
    )
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    inside = target.resolve()
    outside = {
        n: f for n, f in got["files"].items() if not Path(f).resolve().is_relative_to(inside)
    }
    assert not outside, f"imported from outside the install: {outside}"
    assert "cpu-ort" in got["shipped"] and "cpu-ort" in got["known"]


def test_search_profile_validate_from_the_install(installed, tmp_path):
    target, _ = installed
    # --oracle auto: OFA's predictor when HWNAS_ASSETS reaches it, else the zero-cost proxy
    res = _hwnas(
        target,
        tmp_path,
        "search",
        "--flops",
        "400M",
        "--queries",
        "12",
        "--out",
        "run",
        "--no-progress",
        assets=True,
    )
    assert res["queries"] == 12 and res["best"]["mflops"] <= 400
    assert (tmp_path / "run" / "best.json").is_file()

    # the torch backend: the fastest here (ort is profiled through the CLI in test_profile_cli.py)
    res = _hwnas(
        target,
        tmp_path,
        "profile",
        "--device",
        "mine",
        "--backend",
        "torch",
        "--out",
        "dev",
        "--resolutions",
        "128",
        "--rounds",
        "3",
        "--group-size",
        "16",
        "--no-progress",
    )
    assert res["measured"] == 96 and res["backend"] == "torch"
    res = _hwnas(
        target,
        tmp_path,
        "validate-latency",
        "--device",
        "dev",
        "--samples",
        "3",
        "--rounds",
        "3",
        "--no-write",
        "--no-progress",
    )
    assert res["samples"] == 3 and res["written"] is None and res["measured_ms"]["min"] > 0
    written = sorted(p.name for p in (tmp_path / "dev").iterdir())
    assert written == ["128_lookup_table.yaml", "device.yaml"]
