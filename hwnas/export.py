"""Export a chosen subnet as a verified ONNX file (and a TensorRT engine where TensorRT exists).

``export_onnx(arch, space, "net.onnx")`` materialises the subnet with OFA (weights inherited from a
supernet state dict when given, BN statistics recalibrated on images when given, random weights
otherwise), exports it with PyTorch's TorchScript-based ONNX exporter (``dynamo=False``: measured
faster than the dynamo exporter on the largest w1.2 subnet, and it honours ``opset``; numbers in
``docs/export.md``, from ``scripts/bench_export.py``), and checks it:

- ``onnx.checker`` on the written file;
- ONNX Runtime vs PyTorch on the same random input, max abs difference of the logits; above
  :data:`PARITY_TOL` (1e-4, fp32) it is an error (batch 1, and batch 8 too with a dynamic batch);
- with ``simplify``, ``onnxslim`` and the same parity check on the simplified graph;
- the ONNX Runtime latency of the written file (ms, batch 1, median), measured the way a device's
  whole subnets are (``OrtProfiler.time_onnx``: the device's own profiler settings for an ONNX
  Runtime CPU ``device``, else ``make_profiler("ort")``: one thread), and with ``device`` the
  latency table's prediction (ms) beside it.

Beside ``OUT.onnx`` it writes ``OUT.arch.json`` (the arch), ``OUT.net_config.json`` (OFA's
``net.config``: ``MobileNetV3.build_from_config`` rebuilds the module) and ``OUT.export.json`` (the
result dict). The ONNX metadata (``metadata_props``, keys ``hwnas.*``) carry the arch id and genes,
width, resolution (px), MACs, params, hwnas version and the weights source ("random-init" says the
weights are random: fine for latency work, meaningless for accuracy).

``resolve_source`` turns an arch JSON, a ``best.json`` or a search run folder into
``(Arch, Space)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path

from latency import load_device
from latency.onnx_io import DYNAMIC_BATCH_CHECK, INPUT_NAME, OUTPUT_NAME, onnx_bytes, torch_threads
from latency.profilers import make_profiler, profiler_from_settings
from latency.profilers.tensorrt import build_trt_engine, tensorrt_missing

from . import __version__
from .arch import Arch
from .cost import macs_params
from .data import load_image_folder, recalibrate_bn
from .errors import HwnasError
from .export_source import resolve_source
from .ofa_interop import build_subnet, load_supernet, net_config
from .paths import WEIGHTS_FIX, check_checkpoint
from .space import Space, get_space

PARITY_TOL = 1e-4  # max abs difference of fp32 logits, ONNX Runtime vs PyTorch
MIN_OPSET = 13
# torch.onnx.export(..., dynamo=False); chosen by measurement (docs/export.md)
EXPORTER = "torchscript"
RANDOM_INIT = "random-init"


# ---- checks done before any heavy work -----------------------------------------------------------


def max_torchscript_opset() -> int:
    try:
        from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET

        return int(ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)
    except Exception:  # pragma: no cover - older/newer torch without the constant
        return 17


def opset_probe(opset: int):
    """An Identity model of this default-domain opset, at the lowest IR version the opset allows.

    Why the lowest: ``make_model`` stamps the installed onnx's newest IR (14 for onnx 1.23), which
    an older onnxruntime refuses whatever the opset (1.30 reads IR <= 13: seen on the GPU machine),
    while hwnas' exports carry the opset's own IR (8 for opset 17).
    """
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "opset_probe", [x], [y])
    opsets = [helper.make_opsetid("", int(opset))]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = helper.find_min_ir_version_for(opsets, ignore_unknown=True)
    return model


def ort_can_run_opset(opset: int) -> tuple:
    """``(ok, reason)``: whether this ONNX Runtime loads a model of this default-domain opset
    (probed)."""
    import onnxruntime as ort

    model = opset_probe(opset)
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        text = " ".join(str(exc).split())
        m = re.search(r"support for domain ai\.onnx is till opset (\d+)", text)
        return False, (f"it runs ai.onnx opsets up to {m.group(1)}" if m else text[-160:])
    return True, ""


def check_opset(opset) -> int:
    """An opset the exporter writes and ONNX Runtime runs; else a one-line error."""
    top = max_torchscript_opset()
    if isinstance(opset, bool) or not isinstance(opset, int):
        try:
            opset = int(str(opset))
        except ValueError:
            raise HwnasError(
                f"opset {opset!r} is not an integer; allowed: {MIN_OPSET}..{top}"
            ) from None
    unsupported = (
        f"opset {opset} is not supported by the {EXPORTER} ONNX exporter of torch "
        f"here; allowed: {MIN_OPSET}..{top}"
    )
    if opset < MIN_OPSET:  # before the probe: ONNX Runtime prints warnings for old opsets
        raise HwnasError(unsupported)
    ok, why = ort_can_run_opset(opset)
    if not ok:
        import onnxruntime as ort

        raise HwnasError(
            f"opset {opset}: ONNX Runtime {ort.__version__} cannot run it ({why}); "
            f"allowed: {MIN_OPSET}..{top}"
        )
    if opset > top:
        raise HwnasError(unsupported)
    return opset


def _check_out_path(path, what) -> Path:
    p = Path(path)
    if p.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is a folder; give a file path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise HwnasError(
            f"{what} {str(path)!r} is in a folder that does not exist: {str(parent)!r}"
        )
    return p


def companion_paths(onnx_path) -> dict:
    """The files written beside ``OUT.onnx``: arch JSON, OFA net.config, export report."""
    p = Path(onnx_path)
    stem = p.name[:-5] if p.name.endswith(".onnx") else p.name
    return {
        "arch_json": str(p.with_name(stem + ".arch.json")),
        "net_config": str(p.with_name(stem + ".net_config.json")),
        "report": str(p.with_name(stem + ".export.json")),
    }


# ---- the pieces ----------------------------------------------------------------------------------


def _sha256(path, n=16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def build_module(arch: Arch, space: Space, weights=None, seed: int = 0):
    """The subnet as an eval-mode torch module; random weights (seeded) without ``weights``."""
    import torch

    if weights is not None:
        supernet = load_supernet(space, weights)
        net = build_subnet(space, arch, supernet, preserve_weight=True)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_subnet(space, arch)
    return net.eval()


def calibrate(net, arch: Arch, calib_data, calib_images: int) -> int:
    """Recalibrate BN statistics on up to ``calib_images`` images of an image folder; returns how
    many."""
    images, _labels = load_image_folder(str(calib_data), arch.r, limit=calib_images)
    recalibrate_bn(net, images, batch_size=50)
    net.eval()
    return int(images.shape[0])


def torch_export(net, resolution: int, opset: int, dynamic_batch: bool):
    """The module as an ``onnx.ModelProto`` (:func:`latency.onnx_io.onnx_bytes`, named
    :data:`INPUT_NAME` -> :data:`OUTPUT_NAME`)."""
    import onnx

    data = onnx_bytes(
        net,
        (1, 3, resolution, resolution),
        opset,
        dynamic_batch=dynamic_batch,
        names=(INPUT_NAME, OUTPUT_NAME),
    )
    return onnx.load_from_string(data)


def _put_metadata(model, props: dict) -> None:
    keep = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith("hwnas.")]
    del model.metadata_props[:]
    for k, v in keep + [(k, str(v)) for k, v in props.items()]:
        model.metadata_props.add(key=k, value=v)
    if "hwnas.summary" in props:
        model.doc_string = str(props["hwnas.summary"])


def _save(model, path) -> None:
    import onnx

    # protobuf's 2 GiB limit: only then an external-data file
    big = model.ByteSize() > 2_000_000_000
    if big:
        onnx.save_model(
            model, str(path), save_as_external_data=True, location=Path(path).name + ".data"
        )
    else:
        onnx.save_model(model, str(path))


def set_metadata(path, props: dict) -> None:
    """Replace the ``hwnas.*`` entries of an ONNX file's ``metadata_props`` with ``props`` (as
    strings)."""
    import onnx

    model = onnx.load(str(path))
    _put_metadata(model, props)
    _save(model, path)


def read_metadata(path) -> dict:
    """The ``metadata_props`` of an ONNX file as a dict."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def ort_session(path):
    """A plain CPU session of an ONNX file, for the parity check (timing:
    ``OrtProfiler.time_onnx``)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def parity(net, session, resolution: int, batch: int, seed: int = 0) -> dict:
    """ONNX Runtime vs PyTorch logits on one seeded random input: max abs diff and output scale."""
    import numpy as np
    import torch

    g = torch.Generator().manual_seed(seed + batch)
    x = torch.randn(batch, 3, resolution, resolution, generator=g)
    with torch.no_grad(), torch_threads(1):  # one thread: see torch_threads
        ref = net(x).numpy()
    out = session.run(None, {INPUT_NAME: x.numpy()})[0]
    if out.shape != ref.shape:
        raise HwnasError(
            f"ONNX Runtime output shape {out.shape} differs from PyTorch's "
            f"{ref.shape} at batch {batch}"
        )
    diff = float(np.max(np.abs(out.astype(np.float64) - ref)))
    scale = float(np.max(np.abs(ref)))
    return {
        "batch": batch,
        "max_abs_diff": diff,
        "output_abs_max": scale,
        "argmax_agree": bool((out.argmax(1) == ref.argmax(1)).all()),
    }


def simplify_onnx(path) -> dict:
    """Run ``onnxslim`` on the file in place; node counts before and after."""
    import onnx
    import onnxslim

    model = onnx.load(str(path))
    before = len(model.graph.node)
    props = [(p.key, p.value) for p in model.metadata_props]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slim = onnxslim.slim(model)
    if slim is None:
        raise HwnasError(f"onnxslim could not simplify {str(path)!r}")
    if not any(p.key.startswith("hwnas.") for p in slim.metadata_props):
        del slim.metadata_props[:]
        for k, v in props:
            slim.metadata_props.add(key=k, value=v)
    _save(slim, path)
    return {"nodes_before": before, "nodes_after": len(slim.graph.node)}


# ---- the whole export, in named steps -----------------------------------------------------------


class _Steps:
    """A tqdm bar over the export's steps (stderr), or nothing; ``with bar.step(name):`` is one."""

    def __init__(self, names, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=len(names), desc="export", unit="step", file=sys.stderr, leave=False
            )

    @contextlib.contextmanager
    def step(self, name):
        if self.bar is not None:
            self.bar.set_postfix_str(name)
        yield
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _check_positive(value, what) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HwnasError(f"{what} {value!r} is not allowed; allowed: a positive integer")


def export_profiler(dev=None, ort_threads=None):
    """The ONNX Runtime profiler that times the export: a device measured with ONNX Runtime on the
    CPU lends its own settings (``threads``, graph level, spinning, timer), ``ort_threads``
    replacing its threads; otherwise ``make_profiler("ort")`` with ``ort_threads`` (default 1)."""
    meta = getattr(dev, "meta", None) or {}
    if meta.get("backend") == "ort" and meta.get("execution_provider") == "CPUExecutionProvider":
        if ort_threads is not None and ort_threads != meta.get("threads"):
            meta = {**meta, "threads": ort_threads, "timer": "auto"}  # the timer follows threads
        return profiler_from_settings(meta)
    return make_profiler("ort", threads=1 if ort_threads is None else ort_threads)


class _Export:
    """One ``export_onnx`` call: its validated inputs, then one method per step."""

    def __init__(
        self,
        arch,
        space,
        onnx_path,
        *,
        weights,
        calib_data,
        calib_images,
        opset,
        dynamic_batch,
        simplify,
        trt_engine,
        fp16,
        device,
        latency_runs,
        ort_threads,
    ):
        """Check everything before any heavy work (one-line :class:`HwnasError`)."""
        if not isinstance(arch, Arch):
            raise HwnasError(f"arch must be an hwnas Arch, got {type(arch).__name__}")
        self.arch, self.space = arch, get_space(space) if not isinstance(space, Space) else space
        self.out = _check_out_path(onnx_path, "ONNX output")
        if self.out.suffix != ".onnx":
            raise HwnasError(f"ONNX output {str(onnx_path)!r} must end in .onnx")
        self.opset = check_opset(opset)
        if weights is not None:
            check_checkpoint(weights, "weights file", WEIGHTS_FIX)
        if calib_data is not None:
            if not Path(calib_data).is_dir():
                raise HwnasError(
                    f"--calib-data {str(calib_data)!r} is not a folder "
                    f"(an image folder: DIR/<class>/<image>)"
                )
            _check_positive(calib_images, "--calib-images")
        if trt_engine is not None:
            _check_out_path(trt_engine, "TensorRT engine output")
            missing = tensorrt_missing()
            if missing:
                raise HwnasError(missing)
        elif fp16:
            raise HwnasError(
                "--fp16 applies to the TensorRT engine; give --trt-engine OUT.plan too"
            )
        _check_positive(latency_runs, "--latency-runs")
        if ort_threads is not None:
            _check_positive(ort_threads, "ORT threads")
        self.dev = None if device is None else load_device(device, self.space.width)
        self.device = device
        self.profiler = export_profiler(self.dev, ort_threads)
        self.weights, self.calib_data, self.calib_images = weights, calib_data, calib_images
        self.dynamic_batch, self.slim, self.fp16 = bool(dynamic_batch), bool(simplify), fp16
        self.trt_engine, self.latency_runs = trt_engine, latency_runs
        self.files = companion_paths(self.out)
        self.warnings = []
        macs, params = macs_params(self.space, arch.to_array()[None, :])
        self.macs, self.params_m = int(macs[0]), float(params[0]) / 1e6
        self.mflops = float(macs[0]) / 1e6
        self.net = None
        self.result = {}

    def step_names(self) -> list:
        """The steps this call runs, in order."""
        optional = {
            "calibrate": self.calib_data is not None,
            "simplify": self.slim,
            "tensorrt": self.trt_engine is not None,
        }
        order = (
            "build",
            "calibrate",
            "export",
            "check",
            "parity",
            "simplify",
            "latency",
            "tensorrt",
        )
        return [s for s in order if optional.get(s, True)]

    def build(self) -> None:
        """The subnet as a torch module, its weights inherited or random (with a warning)."""
        self.t_export = time.perf_counter()
        self.net = build_module(self.arch, self.space, self.weights)
        if self.weights is None:
            self.weights_src = RANDOM_INIT
            self.warnings.append(
                "no --weights: the subnet has RANDOM weights "
                "(fine for latency work, meaningless for accuracy)"
            )
        else:
            self.weights_src = f"{Path(self.weights).name} sha256:{_sha256(self.weights)}"
        self.n_calib = 0

    def calibrate(self) -> None:
        """BN statistics recalibrated on ``calib_images`` images."""
        self.n_calib = calibrate(self.net, self.arch, self.calib_data, self.calib_images)
        if self.weights is None:
            self.warnings.append("BN statistics were recalibrated on a randomly initialised subnet")

    def metadata(self) -> dict:
        """The ``hwnas.*`` entries of the ONNX file's ``metadata_props``."""
        arch, r = self.arch, self.arch.r
        calib = "none"
        if self.n_calib:
            calib = f"{self.n_calib} images from {Path(self.calib_data).name}"
        batch = "batch" if self.dynamic_batch else 1
        random_note = ", RANDOM weights: not for accuracy" if self.weights is None else ""
        return {
            "hwnas.version": __version__,
            "hwnas.space": self.space.name,
            "hwnas.arch_id": arch.id,
            "hwnas.arch": arch.to_json(),
            "hwnas.width": self.space.width,
            "hwnas.resolution": r,
            "hwnas.macs": self.macs,
            "hwnas.mflops": f"{self.mflops:.3f}",
            "hwnas.params_m": f"{self.params_m:.4f}",
            "hwnas.weights": self.weights_src,
            "hwnas.random_init": str(self.weights is None).lower(),
            "hwnas.bn_calibration": calib,
            "hwnas.exporter": f"torch {_torch_version()} {EXPORTER}",
            "hwnas.input": f"{INPUT_NAME}: float32 [{batch},3,{r},{r}] "
            f"RGB normalised with ImageNet mean/std",
            "hwnas.summary": (
                f"hwnas {arch.id}: OFA MobileNetV3 w{self.space.width} r{r}, "
                f"{self.mflops:.1f} MFLOPs (MACs){random_note}"
            ),
        }

    def export(self) -> None:
        """The ONNX file with its metadata, and the arch JSON and net.config beside it."""
        model = torch_export(self.net, self.arch.r, self.opset, self.dynamic_batch)
        _put_metadata(model, self.metadata())
        _save(model, self.out)
        del model
        self.export_s = time.perf_counter() - self.t_export
        arch_json = json.dumps({**self.arch.to_dict(), "width": self.space.width})
        Path(self.files["arch_json"]).write_text(arch_json + "\n")
        config = json.dumps(net_config(self.space, self.arch), indent=1)
        Path(self.files["net_config"]).write_text(config + "\n")

    def check(self) -> None:
        """``onnx.checker`` on the written file."""
        _onnx_check(self.out)

    def _parity_checks(self) -> list:
        session = ort_session(self.out)
        batches = [1, DYNAMIC_BATCH_CHECK] if self.dynamic_batch else [1]
        return [parity(self.net, session, self.arch.r, b) for b in batches]

    def parity(self) -> None:
        """ONNX Runtime vs PyTorch logits (batch 1, and 8 with a dynamic batch)."""
        a = self.arch
        self.result = {
            "onnx": str(self.out),
            "arch_id": a.id,
            "arch": a.to_dict(),
            "width": self.space.width,
            "resolution": a.r,
            "mflops": self.mflops,
            "params_m": self.params_m,
            "macs": self.macs,
            "opset": self.opset,
            "exporter": EXPORTER,
            "dynamic_batch": self.dynamic_batch,
            "weights": None if self.weights is None else str(self.weights),
            "random_init": self.weights is None,
            "bn_calibrated_images": self.n_calib,
            "checker": "ok",
            "parity_tol": PARITY_TOL,
            "parity": self._parity_checks(),
            "export_s": round(self.export_s, 3),
        }
        if not self.slim:
            self._require_parity()

    def simplify(self) -> None:
        """``onnxslim`` in place, ``onnx.checker`` and the parity check again."""
        self.result["simplify"] = simplify_onnx(self.out)
        _onnx_check(self.out)
        self.result["parity_raw"] = self.result["parity"]
        self.result["parity"] = self._parity_checks()
        self._require_parity()

    def _require_parity(self) -> None:
        """The worst difference into the result; above :data:`PARITY_TOL` the report is written
        and the export fails (the file is kept for inspection)."""
        r = self.result
        worst = max(c["max_abs_diff"] for c in r["parity"] + r.get("parity_raw", []))
        r.update(
            max_abs_diff=worst,
            onnx_bytes=self.out.stat().st_size,
            files=self.files,
            warnings=self.warnings,
        )
        if not math.isfinite(worst) or worst > PARITY_TOL:
            _write_report(self.files["report"], r)
            raise HwnasError(
                f"parity check failed: ONNX Runtime and PyTorch logits differ by "
                f"{worst:.3g} (max abs) > {PARITY_TOL:g}; the file is kept at "
                f"{str(self.out)!r}, report {self.files['report']!r}"
            )

    def latency(self) -> None:
        """The file's batch-1 latency (ms, median of ``latency_runs`` rounds), timed as a device's
        subnets are; with ``device`` its table prediction beside it."""
        r, prof = self.arch.r, self.profiler
        timing = prof.time_onnx(str(self.out), (1, 3, r, r), rounds=self.latency_runs)
        self.result.update(
            ort_latency_ms=timing.median, ort_threads=prof.threads, ort_version=prof.ort_version
        )
        if self.dev is not None:
            self.result["device"] = getattr(self.dev, "name", str(self.device))
            predicted = self.dev.predict_ms(self.arch.to_array()[None, :])
            self.result["predicted_ms"] = float(predicted[0])

    def tensorrt(self) -> None:
        """The TensorRT engine (built and timed by ``latency.profilers.tensorrt``)."""
        _write_report(self.files["report"], self.result)  # kept even if the engine build fails
        self.result.update(
            build_trt_engine(
                self.out,
                self.trt_engine,
                self.arch.r,
                input_name=INPUT_NAME,
                fp16=self.fp16,
                dynamic_batch=self.dynamic_batch,
                max_batch=DYNAMIC_BATCH_CHECK,
            )
        )


def export_onnx(
    arch: Arch,
    space: Space,
    onnx_path,
    *,
    weights=None,
    calib_data=None,
    calib_images=2000,
    opset=17,
    dynamic_batch=False,
    simplify=False,
    trt_engine=None,
    fp16=False,
    device=None,
    progress=False,
    latency_runs=30,
    ort_threads=None,
) -> dict:
    """Export ``arch`` of ``space`` to ``onnx_path`` and verify it; returns the result dict.

    Keys: ``onnx`` (path), ``max_abs_diff`` (worst over the parity checks), ``ort_latency_ms``
    (batch 1, median of ``latency_runs`` timed rounds, ms), ``ort_threads``, ``mflops`` (MACs /
    1e6), ``params_m``, ``arch_id``, ``arch``, ``width``, ``resolution`` (px), ``opset``,
    ``exporter``, ``export_s`` (build + export + metadata, s), ``weights``, ``random_init``,
    ``bn_calibrated_images``, ``parity`` (per batch), ``simplify``, ``predicted_ms`` and
    ``device`` (with ``device``), ``trt_*`` (with ``trt_engine``), ``files``, ``warnings``.
    The latency is timed as tables and measured subnets are (``OrtProfiler.time_onnx``): with an
    ONNX Runtime CPU ``device``, by that device's profiler settings; else by
    ``make_profiler("ort")``. ``ort_threads`` replaces its intra-op threads (default: the
    device's, else 1). Bad input raises :class:`HwnasError` before any heavy work.
    """
    t_all = time.perf_counter()
    job = _Export(
        arch,
        space,
        onnx_path,
        weights=weights,
        calib_data=calib_data,
        calib_images=calib_images,
        opset=opset,
        dynamic_batch=dynamic_batch,
        simplify=simplify,
        trt_engine=trt_engine,
        fp16=fp16,
        device=device,
        latency_runs=latency_runs,
        ort_threads=ort_threads,
    )
    names = job.step_names()
    bar = _Steps(names, progress)
    try:
        for name in names:
            with bar.step(name):
                getattr(job, name)()
    finally:
        bar.close()
    job.result["total_s"] = round(time.perf_counter() - t_all, 3)
    _write_report(job.files["report"], job.result)
    return job.result


def _onnx_check(path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise HwnasError(
            f"onnx.checker rejects {str(path)!r}: {str(exc).splitlines()[0][:300]}"
        ) from None


def _write_report(path, result) -> None:
    Path(path).write_text(json.dumps(result, indent=1) + "\n")


def _torch_version() -> str:
    import torch

    return torch.__version__


def export_source(source, onnx_path, *, pick="best", width=None, **kwargs) -> dict:
    """``resolve_source`` then ``export_onnx``: e.g. the best subnet of a search run folder."""
    arch, space = resolve_source(source, pick=pick, width=width)
    return export_onnx(arch, space, onnx_path, **kwargs)


__all__ = [
    "export_onnx",
    "resolve_source",
    "export_source",
    "read_metadata",
    "check_opset",
    "export_profiler",
    "PARITY_TOL",
]
