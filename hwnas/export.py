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
- the measured ONNX Runtime latency (ms, batch 1, median), and with ``device`` the latency table's
  prediction (ms) beside it.

Beside ``OUT.onnx`` it writes ``OUT.arch.json`` (the arch), ``OUT.net_config.json`` (OFA's
``net.config``: ``MobileNetV3.build_from_config`` rebuilds the module) and ``OUT.export.json`` (the
result dict). The ONNX metadata (``metadata_props``, keys ``hwnas.*``) carry the arch id and genes,
width, resolution (px), MACs, params, hwnas version and the weights source ("random-init" says the
weights are random: fine for latency work, meaningless for accuracy).

``resolve_source`` turns an arch JSON, a ``best.json`` or a search run folder into ``(Arch, Space)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

from . import __version__
from .arch import Arch
from .errors import HwnasError
from .paths import WEIGHTS_FIX, check_checkpoint
from .export_source import resolve_source  # noqa: F401  (part of this module's API)
from .export_trt import build_trt_engine, tensorrt_missing
from .space import Space, get_space

PARITY_TOL = 1e-4  # max abs difference of fp32 logits, ONNX Runtime vs PyTorch
MIN_OPSET = 13
EXPORTER = "torchscript"  # torch.onnx.export(..., dynamo=False); chosen by measurement (docs/export.md)
INPUT_NAME, OUTPUT_NAME = "input", "logits"
DYNAMIC_BATCH_CHECK = 8  # the second batch size the parity check runs with --dynamic-batch
RANDOM_INIT = "random-init"


# ---- checks done before any heavy work ---------------------------------------------------------------------

def max_torchscript_opset() -> int:
    try:
        from torch.onnx._constants import ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET

        return int(ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET)
    except Exception:  # pragma: no cover - older/newer torch without the constant
        return 17


def ort_can_run_opset(opset: int) -> tuple:
    """``(ok, reason)``: whether this ONNX Runtime loads a model of this default-domain opset (probed)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "opset_probe", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))])
    model.ir_version = min(model.ir_version, onnx.IR_VERSION)
    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:
        import re

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
            raise HwnasError(f"opset {opset!r} is not an integer; allowed: {MIN_OPSET}..{top}") from None
    ok, why = ort_can_run_opset(opset)
    if not ok:
        import onnxruntime as ort

        raise HwnasError(f"opset {opset}: ONNX Runtime {ort.__version__} cannot run it ({why}); allowed: {MIN_OPSET}..{top}")
    if not MIN_OPSET <= opset <= top:
        raise HwnasError(f"opset {opset} is not supported by the {EXPORTER} ONNX exporter of torch here; "
                         f"allowed: {MIN_OPSET}..{top}")
    return opset


def _check_out_path(path, what) -> Path:
    p = Path(path)
    if p.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is a folder; give a file path")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise HwnasError(f"{what} {str(path)!r} is in a folder that does not exist: {str(parent)!r}")
    return p


def companion_paths(onnx_path) -> dict:
    """The files written beside ``OUT.onnx``: arch JSON, OFA net.config, export report."""
    p = Path(onnx_path)
    stem = p.name[:-5] if p.name.endswith(".onnx") else p.name
    return {"arch_json": str(p.with_name(stem + ".arch.json")),
            "net_config": str(p.with_name(stem + ".net_config.json")),
            "report": str(p.with_name(stem + ".export.json"))}


# ---- the pieces -------------------------------------------------------------------------------------------

def _sha256(path, n=16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def build_module(arch: Arch, space: Space, weights=None, seed: int = 0):
    """The subnet as an eval-mode torch module; random weights (seeded) without ``weights``."""
    import torch

    from .ofa_interop import build_subnet, load_supernet

    if weights is not None:
        supernet = load_supernet(space, weights)
        net = build_subnet(space, arch, supernet, preserve_weight=True)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_subnet(space, arch)
    return net.eval()


def calibrate(net, arch: Arch, calib_data, calib_images: int) -> int:
    """Recalibrate BN statistics on up to ``calib_images`` images of an image folder; returns how many."""
    try:
        from .data import load_image_folder, recalibrate_bn
    except ImportError as exc:
        raise HwnasError(f"--calib-data needs hwnas.data (load_image_folder, recalibrate_bn), not importable here: {exc}") from None
    images, _labels = load_image_folder(str(calib_data), arch.r, limit=calib_images)
    recalibrate_bn(net, images, batch_size=50)
    net.eval()
    return int(images.shape[0])


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run torch with ``n`` intra-op threads inside the block. Tracing for export runs one forward pass; on a
    busy 2-core machine a thread pool makes it ~6x slower (measured: 7.3 s vs 1.2 s, docs/export.md)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def torch_export(net, resolution: int, opset: int, dynamic_batch: bool):
    """The module as an ``onnx.ModelProto``, from the TorchScript ONNX exporter (exported in memory, traced
    on one thread)."""
    import io

    import onnx
    import torch

    x = torch.zeros(1, 3, resolution, resolution)
    axes = {INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}} if dynamic_batch else None
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch_threads(1):
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation on every call
        with torch.no_grad():
            torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=opset, input_names=[INPUT_NAME],
                              output_names=[OUTPUT_NAME], dynamic_axes=axes, do_constant_folding=True)
    return onnx.load_from_string(buf.getvalue())


def _put_metadata(model, props: dict) -> None:
    keep = [(p.key, p.value) for p in model.metadata_props if not p.key.startswith("hwnas.")]
    del model.metadata_props[:]
    for k, v in keep + [(k, str(v)) for k, v in props.items()]:
        model.metadata_props.add(key=k, value=v)
    if "hwnas.summary" in props:
        model.doc_string = str(props["hwnas.summary"])


def _save(model, path) -> None:
    import onnx

    big = model.ByteSize() > 2_000_000_000  # protobuf's 2 GiB limit: only then an external-data file
    if big:
        onnx.save_model(model, str(path), save_as_external_data=True, location=Path(path).name + ".data")
    else:
        onnx.save_model(model, str(path))


def set_metadata(path, props: dict) -> None:
    """Replace the ``hwnas.*`` entries of an ONNX file's ``metadata_props`` with ``props`` (as strings)."""
    import onnx

    model = onnx.load(str(path))
    _put_metadata(model, props)
    _save(model, path)


def read_metadata(path) -> dict:
    """The ``metadata_props`` of an ONNX file as a dict."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key: p.value for p in model.metadata_props}


def ort_session(path, threads: int = 0):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = int(threads)
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
        raise HwnasError(f"ONNX Runtime output shape {out.shape} differs from PyTorch's {ref.shape} at batch {batch}")
    diff = float(np.max(np.abs(out.astype(np.float64) - ref)))
    scale = float(np.max(np.abs(ref)))
    return {"batch": batch, "max_abs_diff": diff, "output_abs_max": scale,
            "argmax_agree": bool((out.argmax(1) == ref.argmax(1)).all())}


def ort_latency_ms(session, resolution: int, runs: int = 30, warmup: int = 5) -> float:
    """Median wall time (ms) of one batch-1 ONNX Runtime run on the CPU."""
    import numpy as np

    x = np.random.default_rng(0).standard_normal((1, 3, resolution, resolution), dtype=np.float32)
    for _ in range(warmup):
        session.run(None, {INPUT_NAME: x})
    times = []
    for _ in range(max(1, runs)):
        t = time.perf_counter()
        session.run(None, {INPUT_NAME: x})
        times.append((time.perf_counter() - t) * 1e3)
    return float(statistics.median(times))


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


# ---- the whole export -------------------------------------------------------------------------------------

class _Steps:
    """A tqdm bar over the export's steps (stderr), or nothing."""

    def __init__(self, names, enabled):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=len(names), desc="export", unit="step", file=sys.stderr, leave=False)

    def __call__(self, name):
        if self.bar is not None:
            self.bar.set_postfix_str(name)

    def done(self):
        if self.bar is not None:
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def export_onnx(arch: Arch, space: Space, onnx_path, *, weights=None, calib_data=None, calib_images=2000, opset=17,
                dynamic_batch=False, simplify=False, trt_engine=None, fp16=False, device=None, progress=False,
                latency_runs=30, ort_threads=None) -> dict:
    """Export ``arch`` of ``space`` to ``onnx_path`` and verify it; returns the result dict (``--json``).

    Keys: ``onnx`` (path), ``max_abs_diff`` (worst over the parity checks), ``ort_latency_ms`` (batch 1,
    median of ``latency_runs``), ``mflops`` (MACs / 1e6), ``params_m``, ``arch_id``, ``arch``, ``width``,
    ``resolution`` (px), ``opset``, ``exporter``, ``export_s`` (build + export + metadata, s), ``weights``,
    ``random_init``, ``bn_calibrated_images``, ``parity`` (per batch), ``simplify``, ``predicted_ms`` and
    ``device`` (with ``device``), ``trt_*`` (with ``trt_engine``), ``files``, ``warnings``.
    ``ort_threads``: intra-op threads of the timed ONNX Runtime session; default: the ``threads`` of an
    ``ort``-backend ``device`` (so measurement and table describe the same setup), else ONNX Runtime's
    default (all cores). The parity sessions always use the default.
    Bad input raises :class:`HwnasError` before any heavy work.
    """
    import numpy as np

    from .cost import macs_params
    from .ofa_interop import net_config

    t_all = time.perf_counter()
    # -- validate everything first -----------------------------------------------------------------------
    if not isinstance(arch, Arch):
        raise HwnasError(f"arch must be an hwnas Arch, got {type(arch).__name__}")
    space = get_space(space) if not isinstance(space, Space) else space
    out = _check_out_path(onnx_path, "ONNX output")
    if out.suffix != ".onnx":
        raise HwnasError(f"ONNX output {str(onnx_path)!r} must end in .onnx")
    opset = check_opset(opset)
    if weights is not None:
        check_checkpoint(weights, "weights file", WEIGHTS_FIX)
    if calib_data is not None:
        if not Path(calib_data).is_dir():
            raise HwnasError(f"--calib-data {str(calib_data)!r} is not a folder (an image folder: DIR/<class>/<image>)")
        if isinstance(calib_images, bool) or not isinstance(calib_images, int) or calib_images < 1:
            raise HwnasError(f"--calib-images {calib_images!r} is not allowed; allowed: a positive integer")
    if trt_engine is not None:
        _check_out_path(trt_engine, "TensorRT engine output")
        missing = tensorrt_missing()
        if missing:
            raise HwnasError(missing)
    elif fp16:
        raise HwnasError("--fp16 applies to the TensorRT engine; give --trt-engine OUT.plan too")
    dev = None
    if device is not None:
        try:
            from latency import load_device
        except ImportError as exc:
            raise HwnasError(f"--device needs the latency package (latency.load_device), not importable here: {exc}") from None
        dev = load_device(device, space.width)
        meta = getattr(dev, "meta", None) or {}
        if ort_threads is None and meta.get("backend") == "ort" and isinstance(meta.get("threads"), int):
            ort_threads = meta["threads"]
    if ort_threads is not None and (isinstance(ort_threads, bool) or not isinstance(ort_threads, int) or ort_threads < 0):
        raise HwnasError(f"ORT threads {ort_threads!r} is not allowed; allowed: 0 (ONNX Runtime's default) or a positive integer")

    files = companion_paths(out)
    warn = []
    macs, params = macs_params(space, arch.to_array()[None, :])
    mflops, params_m = float(macs[0]) / 1e6, float(params[0]) / 1e6
    steps = ["build", "export", "check", "parity"] + (["calibrate"] if calib_data else []) + \
            (["simplify"] if simplify else []) + ["latency"] + (["tensorrt"] if trt_engine else [])
    bar = _Steps(steps, progress)
    try:
        # -- build ---------------------------------------------------------------------------------------
        bar("build")
        t_export = time.perf_counter()
        net = build_module(arch, space, weights)
        if weights is None:
            weights_src = RANDOM_INIT
            warn.append("no --weights: the subnet has RANDOM weights (fine for latency work, meaningless for accuracy)")
        else:
            weights_src = f"{Path(weights).name} sha256:{_sha256(weights)}"
        bar.done()
        n_calib = 0
        if calib_data is not None:
            bar("calibrate")
            n_calib = calibrate(net, arch, calib_data, calib_images)
            bar.done()
            if weights is None:
                warn.append("BN statistics were recalibrated on a randomly initialised subnet")
        # -- export + metadata -----------------------------------------------------------------------------
        bar("export")
        model = torch_export(net, arch.r, opset, dynamic_batch)
        meta = {
            "hwnas.version": __version__,
            "hwnas.space": space.name,
            "hwnas.arch_id": arch.id,
            "hwnas.arch": arch.to_json(),
            "hwnas.width": space.width,
            "hwnas.resolution": arch.r,
            "hwnas.macs": int(macs[0]),
            "hwnas.mflops": f"{mflops:.3f}",
            "hwnas.params_m": f"{params_m:.4f}",
            "hwnas.weights": weights_src,
            "hwnas.random_init": str(weights is None).lower(),
            "hwnas.bn_calibration": f"{n_calib} images from {Path(calib_data).name}" if n_calib else "none",
            "hwnas.exporter": f"torch {_torch_version()} {EXPORTER}",
            "hwnas.input": f"{INPUT_NAME}: float32 [{'batch' if dynamic_batch else 1},3,{arch.r},{arch.r}] "
                           f"RGB normalised with ImageNet mean/std",
            "hwnas.summary": (f"hwnas {arch.id}: OFA MobileNetV3 w{space.width} r{arch.r}, {mflops:.1f} MFLOPs (MACs)"
                              + (", RANDOM weights: not for accuracy" if weights is None else "")),
        }
        _put_metadata(model, meta)
        _save(model, out)
        del model
        export_s = time.perf_counter() - t_export
        bar.done()
        Path(files["arch_json"]).write_text(json.dumps({**arch.to_dict(), "width": space.width}) + "\n")
        Path(files["net_config"]).write_text(json.dumps(net_config(space, arch), indent=1) + "\n")
        # -- checks ---------------------------------------------------------------------------------------
        bar("check")
        _onnx_check(out)
        bar.done()
        bar("parity")
        batches = [1, DYNAMIC_BATCH_CHECK] if dynamic_batch else [1]
        session = ort_session(out)
        checks = [parity(net, session, arch.r, b) for b in batches]
        bar.done()
        result = {
            "onnx": str(out), "arch_id": arch.id, "arch": arch.to_dict(), "width": space.width,
            "resolution": arch.r, "mflops": mflops, "params_m": params_m, "macs": int(macs[0]),
            "opset": opset, "exporter": EXPORTER, "dynamic_batch": bool(dynamic_batch),
            "weights": None if weights is None else str(weights), "random_init": weights is None,
            "bn_calibrated_images": n_calib, "checker": "ok", "parity_tol": PARITY_TOL,
            "parity": checks, "export_s": round(export_s, 3),
        }
        if simplify:
            bar("simplify")
            result["simplify"] = simplify_onnx(out)
            _onnx_check(out)
            result["parity_raw"] = checks
            session = ort_session(out)
            checks = [parity(net, session, arch.r, b) for b in batches]
            result["parity"] = checks
            bar.done()
        worst = max(c["max_abs_diff"] for c in checks + result.get("parity_raw", []))
        result["max_abs_diff"] = worst
        result["onnx_bytes"] = out.stat().st_size
        result["files"] = files
        result["warnings"] = warn
        if not math.isfinite(worst) or worst > PARITY_TOL:
            _write_report(files["report"], result)
            raise HwnasError(f"parity check failed: ONNX Runtime and PyTorch logits differ by {worst:.3g} (max abs) > "
                             f"{PARITY_TOL:g}; the file is kept at {str(out)!r}, report {files['report']!r}")
        # -- latency --------------------------------------------------------------------------------------
        bar("latency")
        if ort_threads:
            session = ort_session(out, threads=ort_threads)
        result["ort_latency_ms"] = ort_latency_ms(session, arch.r, runs=latency_runs)
        result["ort_threads"] = int(ort_threads or 0)  # 0: ONNX Runtime's default (all cores)
        result["ort_version"] = _ort_version()
        if dev is not None:
            result["device"] = getattr(dev, "name", str(device))
            result["predicted_ms"] = float(np.asarray(dev.predict_ms(arch.to_array()[None, :]))[0])
        bar.done()
        if trt_engine is not None:
            bar("tensorrt")
            _write_report(files["report"], result)  # keep what is measured even if the engine build fails
            result.update(build_trt_engine(out, trt_engine, arch.r, fp16=fp16, dynamic_batch=dynamic_batch))
            bar.done()
    finally:
        bar.close()
    result["total_s"] = round(time.perf_counter() - t_all, 3)
    _write_report(files["report"], result)
    return result


def _onnx_check(path) -> None:
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:
        raise HwnasError(f"onnx.checker rejects {str(path)!r}: {str(exc).splitlines()[0][:300]}") from None


def _write_report(path, result) -> None:
    Path(path).write_text(json.dumps(result, indent=1) + "\n")


def _torch_version() -> str:
    import torch

    return torch.__version__


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def export_source(source, onnx_path, *, pick="best", width=None, **kwargs) -> dict:
    """``resolve_source`` then ``export_onnx``: e.g. the best subnet of a search run folder."""
    arch, space = resolve_source(source, pick=pick, width=width)
    return export_onnx(arch, space, onnx_path, **kwargs)


__all__ = ["export_onnx", "resolve_source", "export_source", "read_metadata", "check_opset", "PARITY_TOL"]
