"""Profilers, table building (resume, settings, executor), end-to-end measurement, validation and
the CLI.

Real ONNX Runtime sessions and real OFA modules throughout; tables are built at width 1.0, r=128
with one round so a whole table takes seconds. TensorRT is absent here: its test checks the one-line
error.
"""

from __future__ import annotations

import json

import pytest
import yaml

import latency
import latency.profilers.base as base
from hwnas.arch import Arch, encode
from hwnas.cli import main
from hwnas.errors import HwnasError
from hwnas.executor import LocalExecutor
from hwnas.space import get_space
from latency.keys import table_specs
from latency.modules import build_layer
from latency.profilers import make_profiler, profiler_from_settings
from latency.profilers.base import time_interleaved
from latency.profilers.registry import BACKENDS
from latency.table import load_table, table_path

GRAPH = {"cuda_graph": True}
FAST = dict(
    resolutions=(128,), width=1.0, rounds=1, warmup=1, group_size=8, sample_ms=0.2, progress=False
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A complete w1.0 r=128 device, built with one interruption and one resume."""
    folder = tmp_path_factory.mktemp("dev") / "tiny"
    real = base.time_interleaved
    calls = {"n": 0}

    def interrupting(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    base.time_interleaved = interrupting
    try:
        with pytest.raises(KeyboardInterrupt):
            latency.profile_device(str(folder), **FAST)
    finally:
        base.time_interleaved = real
    partial = load_table(table_path(folder, 128))
    summary = latency.profile_device(str(folder), **FAST)
    return folder, partial, summary


def test_build_saves_every_entry_and_resumes(built):
    folder, partial, summary = built
    # two groups of 8 finished before the interruption; all of them were kept
    assert len(partial) == 16
    assert summary["skipped"] == 16 and summary["measured"] == 96 - 16
    table = load_table(table_path(folder, 128))
    expected = {s.key for s in table_specs(get_space(1.0), 128)}
    assert set(table) == expected
    assert all(k in table[key] for key in partial for k in ("mean", "std", "count"))
    assert all(table[k]["mean"] == partial[k]["mean"] for k in partial)  # resumed, not re-measured
    again = latency.profile_device(str(folder), **FAST)
    assert again["measured"] == 0 and again["skipped"] == 96


def test_device_yaml_states_the_method(built):
    folder, _, _ = built
    meta = yaml.safe_load((folder / "device.yaml").read_text())
    for k in (
        "name",
        "backend",
        "execution_provider",
        "precision",
        "threads",
        "batch_size",
        "width",
        "machine",
        "versions",
        "date",
        "timer",
        "method",
    ):
        assert k in meta, k
    assert meta["backend"] == "ort" and meta["execution_provider"] == "CPUExecutionProvider"
    assert meta["threads"] == 1 and meta["width"] == 1.0 and meta["precision"] == "fp32"
    assert meta["ort"]["graph_optimization_level"] == "ORT_ENABLE_ALL"
    assert "onnxruntime" in meta["versions"]
    dev = latency.load_device(folder, width=1.0)
    assert dev.name == "tiny" and dev.resolutions == (128,)
    y = dev.predict_ms(encode([Arch.smallest(128), Arch.largest(128)]))
    assert 0 < y[0] < y[1]


def test_other_settings_refused_in_same_folder(built):
    folder, _, _ = built
    with pytest.raises(HwnasError, match="was measured with threads=1, not 2"):
        latency.profile_device(
            str(folder), **{**FAST, "resolutions": (144,)}, threads=2, timer="wall"
        )


def test_executor_runs_one_task_per_resolution(tmp_path):
    seen = []

    class Recording(LocalExecutor):
        def map_unordered(self, fn, items, resources=None):
            seen.append((len(list(items)), resources))
            yield from super().map_unordered(fn, items, resources)

    folder = tmp_path / "ex"
    # one resolution done here, one through the executor
    res = latency.profile_device(str(folder), executor=Recording(), **{**FAST, "group_size": 96})
    assert seen == [(1, {"device:ex": 1})]
    assert res["measured"] == 96 and len(load_table(table_path(folder, 128))) == 96


@pytest.mark.parametrize("backend", BACKENDS.names())
def test_profilers_time_real_modules(backend):
    # ~8x the MACs apart (k3 e3 at 128 px against k7 e6 at 224 px), so that the timer must see
    # the module's work even on a loaded 2-core host; a 2.6x pair once measured only 1.4x in CI.
    first = {
        r: {(s.kernel, s.expand): s for s in table_specs(get_space(1.2), r) if s.block == 0}
        for r in (128, 224)
    }
    small, big = first[128][(3, 3)], first[224][(7, 6)]
    try:
        prof = make_profiler(backend)
    except HwnasError as exc:  # a GPU-only backend (TensorRT) where its package cannot exist
        if "pip install" not in str(exc):
            raise
        pytest.skip(str(exc))
    runners = [prof.prepare(build_layer(s), s.input_shape) for s in (small, big)]
    t = time_interleaved(runners, rounds=5, warmup=2)
    assert all(x.count == 5 and x.median > 0 and x.min <= x.median <= x.max for x in t)
    assert t[1].min > 2 * t[0].min, backend  # measured 5-7x on an idle host
    if prof.default_provider == "cpu":
        assert prof.settings()["timer"] == "thread_cpu"
    assert prof.settings()["backend"] == backend
    # device.yaml records enough to rebuild the same profiler (provider, backend options)
    assert profiler_from_settings({"name": "x", **prof.settings()}).settings() == prof.settings()


def test_backend_not_installed_names_package():
    try:
        import tensorrt  # noqa: F401  (only whether it imports matters)
    except ImportError:
        with pytest.raises(HwnasError, match="pip install tensorrt"):
            make_profiler("tensorrt")
    else:  # pragma: no cover - only where TensorRT exists
        pytest.skip("TensorRT is installed here; its missing-package error cannot be shown")
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():  # CPU onnxruntime
        with pytest.raises(
            HwnasError,
            match="CUDAExecutionProvider is not in the installed onnxruntime.*onnxruntime-gpu",
        ):
            make_profiler("ort", provider="cuda")
    with pytest.raises(
        HwnasError, match="backend 'tvm' is unknown; allowed: " + ", ".join(BACKENDS.names())
    ):
        make_profiler("tvm")
    with pytest.raises(HwnasError, match="thread_cpu measures latency only for single-threaded"):
        make_profiler("ort", threads=2, timer="thread_cpu")
    with pytest.raises(HwnasError, match="option 'opt_level' does not apply to backend torch"):
        make_profiler("torch", opt_level="all")


def test_ort_cuda_provider_that_cannot_run_is_an_error():
    """onnxruntime-gpu lists CUDAExecutionProvider even where it cannot load CUDA; a session would
    then fall back to the CPU and time the wrong thing. hwnas refuses in one line instead."""
    import onnxruntime as ort
    import torch

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("this onnxruntime has no CUDA provider (onnxruntime-gpu is not installed)")
    if torch.cuda.is_available():
        pytest.skip("CUDA works here; test_cuda_profilers_time_real_modules times it")
    with pytest.raises(HwnasError, match="lists its CUDA provider but cannot use CUDA here"):
        make_profiler("ort", provider="cuda")


def test_tensorrt_engine_timing():
    pytest.importorskip(
        "tensorrt", reason="TensorRT is not installed here (it needs an NVIDIA GPU)"
    )
    import torch

    if not torch.cuda.is_available():
        pytest.skip("TensorRT is installed but no CUDA GPU is visible")
    spec = table_specs(get_space(1.2), 160)[6]
    prof = make_profiler("tensorrt")
    t = time_interleaved([prof.prepare(build_layer(spec), spec.input_shape)], rounds=5)
    assert t[0].median > 0


def test_cuda_profilers_time_real_modules():
    """PyTorch eager CUDA (fp32, fp16; batch 1 and 64), TorchScript CUDA, and ONNX Runtime's CUDA
    provider where installed; device.yaml's record of the GPU."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip(
            f"no CUDA GPU visible to this torch ({torch.__version__}); "
            f"scripts/gpu_profile.sh runs this"
        )
    specs = {(s.kernel, s.expand): s for s in table_specs(get_space(1.2), 160) if s.block == 0}
    small, big = specs[(3, 3)], specs[(7, 6)]
    cases = [("torch", p, b, g) for p in ("fp32", "fp16") for b in (1, 64) for g in ({}, GRAPH)]
    cases += [("torchscript", "fp16", 64, {}), ("torchscript", "fp16", 1, GRAPH)]
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        cases.append(("ort", "fp32", 1, {}))
    for backend, precision, batch, options in cases:
        case = (backend, precision, batch, options)
        prof = make_profiler(
            backend, provider="cuda", precision=precision, batch_size=batch, **options
        )
        assert prof.machine()["gpu"]["name"] == torch.cuda.get_device_name(0)
        assert prof.fingerprint()["gpu"] == torch.cuda.get_device_name(0)
        settings = prof.settings()
        assert profiler_from_settings({"name": "x", **settings}).settings() == settings, case
        t = prof.time_modules(
            [(build_layer(s), s.input_shape) for s in (small, big)], rounds=5, warmup=2
        )
        assert all(x.count == 5 and x.median > 0 for x in t), case
        # at batch 1 eager PyTorch is launch-bound: small and big blocks may take the same time
        if batch == 64 or options:
            assert t[1].median > t[0].median, case


def test_cuda_graph_needs_cuda():
    with pytest.raises(HwnasError, match="--cuda-graph needs --provider cuda"):
        make_profiler("torch", **GRAPH)
    with pytest.raises(HwnasError, match="option 'cuda_graph' does not apply to backend ort"):
        make_profiler("ort", **GRAPH)


def test_measure_and_validate(built, monkeypatch, tmp_path):
    folder, _, _ = built
    monkeypatch.setenv("HWNAS_CACHE", str(tmp_path / "cache"))
    dev = latency.load_device(folder, width=1.0)
    arch = Arch.smallest(128)
    ms = latency.measure_arch_ms(arch, device=dev, rounds=3)
    # same arch, same units (ms, not us): a loaded 2-core host moves one timing up to 2x
    assert 1 / 3 < ms / dev.table_ms(encode([arch]))[0] < 3.0
    # 5 interleaved rounds of 4 subnets >= 12% apart in MACs (seed 2): a positive slope to write
    res = latency.validate_device(
        str(folder), samples=4, seed=2, width=1.0, rounds=5, progress=False, out=folder
    )
    for k in ("within_10pct", "rmse_pct", "spearman"):
        assert k in res["table_sum"] and k in res["corrected"]
    meta = yaml.safe_load((folder / "device.yaml").read_text())
    assert meta["correction"]["slope"] == pytest.approx(res["correction"]["slope"])
    dev = latency.load_device(folder, width=1.0)
    X = encode([arch])
    assert dev.predict_ms(X)[0] == pytest.approx(
        res["correction"]["slope"] * dev.table_ms(X)[0] + res["correction"]["intercept"]
    )
    rows = json.loads((folder / "validation.json").read_text())["rows"]
    assert len(rows) == 4
    # rerun: all four are already measured, nothing is measured again
    monkeypatch.setattr(
        "latency.validate.measure_archs", lambda *a, **k: pytest.fail("re-measured")
    )
    again = latency.validate_device(
        str(folder), samples=4, seed=2, width=1.0, rounds=5, progress=False
    )
    assert again["table_sum"] == res["table_sum"]


def test_ofa_tables_cannot_be_measured(tmp_path):
    from latency.table import save_table

    space = get_space(1.2)
    save_table(
        table_path(tmp_path, 160),
        {s.key: {"mean": 1.0, "std": 0.0, "count": 1} for s in table_specs(space, 160)},
    )
    with pytest.raises(HwnasError, match="no backend recorded"):
        latency.validate_device(str(tmp_path), samples=3, progress=False)


# ---- CLI -----------------------------------------------------------------------------------------


def _cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_latency(built, tmp_path, capsys):
    folder, _, _ = built
    arch = tmp_path / "arch.json"
    Arch.smallest(128).save(arch)
    code, out, _ = _cli(
        capsys, "latency", str(arch), "--device", str(folder), "--width", "1.0", "--json"
    )
    assert code == 0
    obj = json.loads(out)
    dev = latency.load_device(folder, width=1.0)
    assert obj["latency_ms"] == pytest.approx(dev.predict_ms(encode([Arch.smallest(128)]))[0])
    code, out, _ = _cli(
        capsys,
        "latency",
        str(arch),
        "--device",
        str(folder),
        "--width",
        "1.0",
        "--measure",
        "--rounds",
        "3",
        "--json",
    )
    assert code == 0 and json.loads(out)["measured_ms"] > 0


def test_cli_bad_input_is_one_line_exit_2(built, tmp_path, capsys):
    folder, _, _ = built
    arch = tmp_path / "arch.json"
    Arch.smallest(224).save(arch)
    cases = [
        (("latency", str(arch), "--device", "no-such-device"), "known devices: "),
        (
            ("latency", str(arch), "--device", str(folder), "--width", "1.0"),
            "no latency table for resolution 224",
        ),
        (("latency", str(arch), "--device", str(folder)), "not 1.2"),
        (
            ("profile", "--device", str(tmp_path / "t"), "--backend", "tensorrt"),
            "pip install tensorrt",
        ),
        (
            ("profile", "--device", str(tmp_path / "t"), "--resolutions", "300"),
            "resolution 300 is out of range",
        ),
    ]
    for argv, msg in cases:
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == "", argv
        assert err.startswith("hwnas: error: ") and err.count("\n") == 1 and msg in err, (argv, err)
    assert not (tmp_path / "t").exists()  # nothing half-made for a refused command


def test_foreign_tables_are_not_mixed(tmp_path):
    from latency.table import save_table

    save_table(
        table_path(tmp_path, 128),
        {"Conv-input:128x128x3-output:64x64x16": {"mean": 1.0, "std": 0, "count": 1}},
    )
    with pytest.raises(HwnasError, match="tables hwnas did not measure"):
        latency.profile_device(str(tmp_path), **FAST)
    dev = latency.load_device(tmp_path, width=1.0)
    with pytest.raises(HwnasError, match="NEW_DIR"):
        dev.predict_ms(encode([Arch.smallest(128)]))


def test_dispersed_timings_are_retried():
    from latency.profilers.base import Runner

    class Scripted(Runner):
        """Returns scripted seconds per call (a stand-in clock: the retry rule is what is
        tested)."""

        def __init__(self, values):
            self.values = list(values)

        def run(self, n):
            return self.values.pop(0) * n if self.values else 0.001 * n

    # warm-up, 10 disagreeing rounds, then calm
    noisy = [0.001] * 3 + [0.001, 0.003] * 5 + [0.001] * 20
    calm = [0.002] * 50
    t = time_interleaved(
        [Scripted(noisy), Scripted(calm)],
        rounds=10,
        warmup=2,
        sample_ms=0.0,
        max_inner=1,
        max_dispersion=0.05,
        retries=2,
    )
    # the calm retry replaced the noisy timing
    assert t[0].iqr == 0 and t[0].median == pytest.approx(1.0)
    assert t[1].median == pytest.approx(2.0)
