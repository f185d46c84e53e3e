"""``hwnas export``: real OFA subnets exported with torch, checked with onnx and timed in ONNX
Runtime."""

import csv
import json
import math
import os

import numpy as np
import pytest

from hwnas import Arch, HwnasError, get_space
from hwnas.cost import macs_params
from hwnas.export import (
    PARITY_TOL,
    export_onnx,
    export_profiler,
    opset_probe,
    ort_can_run_opset,
    read_metadata,
    resolve_source,
    torch_threads,
)

# A 600M-class subnet of the w1.2 space (594.93 M MACs at 224 px).
A600 = Arch.from_dict(
    {
        "ks": [7, 5, 7, 7, 3, 3, 5, 3, 3, 3, 3, 3, 7, 3, 7, 7, 7, 3, 3, 3],
        "e": [6, 6, 4, 6, 4, 4, 6, 4, 3, 6, 3, 3, 6, 6, 4, 6, 4, 6, 3, 3],
        "d": [4, 4, 2, 4, 2],
        "r": 224,
    }
)
NETS = {"largest": Arch.largest(224), "smallest": Arch.smallest(160), "600M": A600}
FAST = dict(latency_runs=2)


class TrainedLike:
    """Supernet state dicts whose weights behave like trained ones for one arch each: BN statistics
    of that subnet's own activations, varied BN affine parameters, and ImageNet-sized logits (about
    8), so that a parity check of 1e-4 means something (a randomly initialised OFA net outputs
    logits of ~0.03, where almost any two nets agree to 1e-4)."""

    def __init__(self, folder):
        import torch

        from hwnas.ofa_interop import build_supernet

        self.folder, self.files = folder, {}
        g = torch.Generator().manual_seed(0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = build_supernet(get_space(1.2))
        with torch.no_grad():
            for m in self.net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.momentum = None  # running stats = the average over the calibration batches
                    m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        self.classifier = self.net.classifier.linear.weight.detach().clone()

    def __call__(self, arch):
        import torch

        from hwnas.ofa_interop import set_active

        if arch not in self.files:
            g = torch.Generator().manual_seed(1)
            net = self.net
            set_active(net, arch)
            with torch.no_grad(), torch_threads(1):
                for m in net.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.reset_running_stats()
                net.train()
                net(torch.randn(2, 3, arch.r, arch.r, generator=g))
                net.eval()
                net.classifier.linear.weight.copy_(self.classifier)
                y = net(torch.randn(4, 3, arch.r, arch.r, generator=g))
                net.classifier.linear.weight.mul_(8.0 / float(y.abs().max()))
            path = self.folder / f"trained_like_{arch.id}.pth"
            torch.save(net.state_dict(), path)
            self.files[arch] = path
        return self.files[arch]


@pytest.fixture(scope="module")
def weights_for(tmp_path_factory):
    return TrainedLike(tmp_path_factory.mktemp("weights"))


def _ort(path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", list(NETS))
def test_export_passes_parity_and_loads_in_ort(name, weights_for, tmp_path):
    import onnx

    arch, space = NETS[name], get_space(1.2)
    out = tmp_path / f"{name}.onnx"
    r = export_onnx(arch, space, out, weights=weights_for(arch), **FAST)
    assert r["onnx"] == str(out) and r["checker"] == "ok" and r["exporter"] == "torchscript"
    assert r["max_abs_diff"] <= PARITY_TOL
    c = r["parity"][0]
    assert c["batch"] == 1 and c["argmax_agree"]
    assert c["output_abs_max"] > 1.0, "logits too small for the parity check to mean anything"
    assert r["ort_latency_ms"] > 0 and r["random_init"] is False and r["warnings"] == []
    macs, params = macs_params(space, arch.to_array()[None, :])
    assert r["mflops"] == pytest.approx(macs[0] / 1e6) and r["params_m"] == pytest.approx(
        params[0] / 1e6
    )
    if name == "600M":
        assert 590 < r["mflops"] < 600
    # one file, and the arch JSON, OFA net.config and report beside it: no external-data file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{name}{suffix}" for suffix in (".onnx", ".arch.json", ".net_config.json", ".export.json")
    )
    assert Arch.load(r["files"]["arch_json"]) == arch
    assert (
        json.loads((tmp_path / f"{name}.export.json").read_text())["max_abs_diff"]
        == r["max_abs_diff"]
    )
    # loads and runs in ONNX Runtime, fixed batch 1
    sess = _ort(out)
    (inp,) = sess.get_inputs()
    assert inp.name == "input" and inp.shape == [1, 3, arch.r, arch.r]
    y = sess.run(None, {"input": np.zeros((1, 3, arch.r, arch.r), np.float32)})[0]
    assert y.shape == (1, 1000) and np.isfinite(y).all()
    # metadata readable with onnx.load
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["hwnas.arch_id"] == arch.id and Arch.from_json(meta["hwnas.arch"]) == arch
    assert float(meta["hwnas.width"]) == 1.2 and int(meta["hwnas.resolution"]) == arch.r
    assert int(meta["hwnas.macs"]) == int(macs[0]) and float(meta["hwnas.mflops"]) == pytest.approx(
        r["mflops"], abs=1e-3
    )
    assert meta["hwnas.version"] and meta["hwnas.weights"].startswith(
        f"trained_like_{arch.id}.pth sha256:"
    )
    assert meta["hwnas.random_init"] == "false"
    # the ONNX net computes what the supernet computes with the arch active: weights inherited
    if name == "600M":
        import torch

        from hwnas.ofa_interop import load_supernet, set_active

        supernet = load_supernet(space, weights_for(arch)).eval()
        set_active(supernet, arch)
        x = torch.randn(1, 3, arch.r, arch.r, generator=torch.Generator().manual_seed(7))
        with torch.no_grad(), torch_threads(1):
            ref = supernet(x).numpy()
        assert np.abs(ref).max() > 1.0
        assert np.abs(sess.run(None, {"input": x.numpy()})[0] - ref).max() <= PARITY_TOL


def test_net_config_rebuilds_the_same_network(weights_for, tmp_path):
    from hwnas.ofa_compat import ofa_mobilenet_v3_class

    r = export_onnx(
        Arch.smallest(176),
        get_space(1.2),
        tmp_path / "s.onnx",
        weights=weights_for(Arch.smallest(160)),
        **FAST,
    )
    text = open(r["files"]["net_config"]).read()
    # (OFA pops keys from the dict it reads)
    net = ofa_mobilenet_v3_class().build_from_config(json.loads(text))
    n_params = sum(p.numel() for p in net.parameters())
    assert n_params == round(r["params_m"] * 1e6)
    assert net.config == json.loads(text)


def test_random_init_dynamic_batch_1_and_8(tmp_path):
    out = tmp_path / "dyn.onnx"
    r = export_onnx(Arch.smallest(160), get_space(1.2), out, dynamic_batch=True, **FAST)
    assert [c["batch"] for c in r["parity"]] == [1, 8] and r["max_abs_diff"] <= PARITY_TOL
    assert r["random_init"] is True and any("RANDOM" in w for w in r["warnings"])
    sess = _ort(out)
    assert sess.get_inputs()[0].shape[0] == "batch"
    for b in (1, 8):
        assert sess.run(None, {"input": np.ones((b, 3, 160, 160), np.float32)})[0].shape == (
            b,
            1000,
        )
    meta = read_metadata(out)
    assert meta["hwnas.weights"] == "random-init" and meta["hwnas.random_init"] == "true"
    assert "RANDOM" in meta["hwnas.summary"]


def test_simplify_rechecks_parity_and_keeps_metadata(tmp_path):
    out = tmp_path / "slim.onnx"
    r = export_onnx(Arch.smallest(128), get_space(1.0), out, simplify=True, opset=13, **FAST)
    s = r["simplify"]
    assert 0 < s["nodes_after"] <= s["nodes_before"]
    assert len(r["parity_raw"]) == len(r["parity"]) == 1 and r["max_abs_diff"] <= PARITY_TOL
    meta = read_metadata(out)
    assert meta["hwnas.arch_id"] == Arch.smallest(128).id and float(meta["hwnas.width"]) == 1.0
    import onnx

    assert onnx.load(str(out)).opset_import[0].version == 13
    assert _ort(out).run(None, {"input": np.zeros((1, 3, 128, 128), np.float32)})[0].shape == (
        1,
        1000,
    )


# ---- SOURCE forms --------------------------------------------------------------------------------


def _make_run(folder, width=1.0, archs=(NETS["smallest"], A600)):
    space = get_space(width)
    folder.mkdir()
    (folder / "run.yaml").write_text(
        f"space:\n  width: {width}\n  resolutions: [160, 192, 224]\nqueries: 10\n"
    )
    X = np.stack([a.to_array() for a in archs])
    macs, params = macs_params(space, X)
    order = np.argsort(macs)
    with open(folder / "pareto.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["arch_id", "accuracy", "mflops", "params_m", "latency_ms", "arch"])
        for i in order:
            w.writerow([archs[i].id, 0.8, macs[i] / 1e6, params[i] / 1e6, "", archs[i].to_json()])
    best = archs[order[-1]]
    (folder / "best.json").write_text(
        json.dumps(
            {
                "arch": best.to_dict(),
                "arch_id": best.id,
                "accuracy": 0.8,
                "mflops": 1.0,
                "params_m": 1.0,
                "latency_ms": None,
                "oracle": "acc_predictor",
                "width": width,
                "net_config": {},
            }
        )
    )
    return folder


def test_resolve_source_forms(tmp_path):
    a = Arch.smallest(192)
    a.save(tmp_path / "arch.json")
    assert resolve_source(tmp_path / "arch.json") == (a, get_space(1.2))
    assert resolve_source(tmp_path / "arch.json", width=1.0)[1].width == 1.0
    (tmp_path / "arch10.json").write_text(json.dumps({**a.to_dict(), "width": 1.0}))
    assert resolve_source(tmp_path / "arch10.json")[1].width == 1.0
    run = _make_run(tmp_path / "run")
    arch, space = resolve_source(run)
    assert arch == A600 and space.width == 1.0 and space.resolutions == (160, 192, 224)
    assert resolve_source(run / "best.json") == (A600, get_space(1.0))
    assert resolve_source(run, pick=0)[0] == Arch.smallest(160)
    assert resolve_source(run, pick="1")[0] == A600
    # hwnas search writes the space under settings: in run.yaml
    (run / "run.yaml").write_text(
        "settings:\n  width: 1.0\n  resolutions: [176, 224]\n  queries: 10\n"
    )
    assert resolve_source(run)[1] == get_space(1.0, (176, 224))


@pytest.mark.parametrize(
    "make, kwargs, needle",
    [
        (lambda d: d / "missing.json", {}, "does not exist"),
        (lambda d: (d / "x.txt").write_text("hello") and d / "x.txt", {}, "none of"),
        (lambda d: (d / "l.json").write_text("[1, 2]") and d / "l.json", {}, "none of"),
        (
            lambda d: (d / "o.json").write_text('{"name": "MobileNetV3"}') and d / "o.json",
            {},
            "neither ks/e/d",
        ),
        (lambda d: (d / "empty").mkdir() or d / "empty", {}, "no best.json"),
        (lambda d: _make_run(d / "run"), {"pick": 2}, "past the end"),
        (lambda d: _make_run(d / "run"), {"pick": "worst"}, "allowed: best"),
        (lambda d: _make_run(d / "run"), {"width": 1.2}, "contradicts"),
        (
            lambda d: Arch.smallest().save(d / "a.json") or d / "a.json",
            {"pick": 1},
            "needs a search run folder",
        ),
    ],
)
def test_bad_source(make, kwargs, needle, tmp_path):
    with pytest.raises(HwnasError, match=needle):
        resolve_source(make(tmp_path), **kwargs)


# ---- bad input, found before any heavy work ------------------------------------------------------


def test_weights_of_another_width_name_the_keys(tmp_path):
    import torch

    from hwnas.ofa_interop import build_supernet

    path = tmp_path / "w10.pth"
    torch.save(build_supernet(get_space(1.0)).state_dict(), path)
    with pytest.raises(HwnasError, match=r"w1\.2.*differ in shape, e\.g\. \S+\.weight is \(\d+"):
        export_onnx(Arch.smallest(), get_space(1.2), tmp_path / "x.onnx", weights=path)
    assert not (tmp_path / "x.onnx").exists()


def test_weights_of_another_family_name_the_keys(tmp_path):
    import torch

    path = tmp_path / "resnet.pth"
    torch.save(
        {"layer1.0.conv1.weight": torch.zeros(64, 64, 3, 3), "fc.weight": torch.zeros(1000, 2048)},
        path,
    )
    with pytest.raises(
        HwnasError,
        match=r"not an OFA MobileNetV3 w1\.2 supernet: 2 unexpected "
        r".*fc\.weight",
    ):
        export_onnx(Arch.smallest(), get_space(1.2), tmp_path / "x.onnx", weights=path)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"opset": 99}, r"opset 99: ONNX Runtime [\d.]+ cannot run it .*allowed: 13\.\.\d+"),
        ({"opset": 21}, r"opset 21 is not supported by the torchscript ONNX exporter"),
        ({"opset": 9}, r"allowed: 13\.\."),
        ({"weights": "/nonexistent/w.pth"}, "does not exist"),
        ({"fp16": True}, "--trt-engine"),
        ({"calib_data": "/nonexistent/images"}, "not a folder"),
        ({"ort_threads": -1}, "ORT threads -1"),
        ({"ort_threads": 0}, "ORT threads 0 is not allowed; allowed: a positive integer"),
        ({"latency_runs": 0}, "--latency-runs 0 is not allowed"),
    ],
)
def test_bad_options(kwargs, needle, tmp_path):
    with pytest.raises(HwnasError, match=needle):
        export_onnx(Arch.smallest(), get_space(1.2), tmp_path / "x.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_opset_probe_carries_the_opsets_own_ir_version():
    """Not the installed onnx's newest IR, which an older onnxruntime refuses for every opset."""
    assert opset_probe(17).ir_version == 8 and opset_probe(13).ir_version == 7
    assert ort_can_run_opset(17) == (True, "")


def test_output_in_a_missing_folder(tmp_path):
    with pytest.raises(HwnasError, match="folder that does not exist"):
        export_onnx(Arch.smallest(), get_space(1.2), tmp_path / "no" / "x.onnx")
    with pytest.raises(HwnasError, match="must end in .onnx"):
        export_onnx(Arch.smallest(), get_space(1.2), tmp_path / "x.plan")


def test_trt_engine_without_tensorrt_names_what_is_missing(tmp_path):
    try:
        import tensorrt  # noqa: F401

        pytest.skip("TensorRT is installed here; the missing-TensorRT error cannot happen")
    except ImportError:
        pass
    with pytest.raises(HwnasError, match="needs NVIDIA TensorRT.*'tensorrt' is not importable"):
        export_onnx(
            Arch.smallest(),
            get_space(1.2),
            tmp_path / "x.onnx",
            trt_engine=tmp_path / "x.plan",
            fp16=True,
        )
    assert list(tmp_path.iterdir()) == []


def test_trt_engine_builds(tmp_path):
    pytest.importorskip(
        "tensorrt",
        reason="TensorRT is not installed here (CPU machine); the engine path cannot run",
    )
    r = export_onnx(
        Arch.smallest(),
        get_space(1.2),
        tmp_path / "x.onnx",
        trt_engine=tmp_path / "x.plan",
        fp16=True,
        **FAST,
    )
    assert os.path.getsize(r["trt_engine"]) > 0


# ---- optional parts: BN recalibration, a device's table ------------------------------------------


def test_calibration_changes_bn_stats_and_parity_holds(weights_for, tmp_path):
    pytest.importorskip(
        "hwnas.data", reason="hwnas.data (image folder loading, BN recalibration) is not here yet"
    )
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 255, (183, 183, 3), dtype=np.uint8)).save(
                tmp_path / "imgs" / cls / f"{i}.png"
            )
    base = export_onnx(
        Arch.smallest(160),
        get_space(1.2),
        tmp_path / "a.onnx",
        weights=weights_for(Arch.smallest(160)),
        **FAST,
    )
    r = export_onnx(
        Arch.smallest(160),
        get_space(1.2),
        tmp_path / "b.onnx",
        weights=weights_for(Arch.smallest(160)),
        calib_data=tmp_path / "imgs",
        calib_images=4,
        **FAST,
    )
    assert r["bn_calibrated_images"] == 4 and r["max_abs_diff"] <= PARITY_TOL
    assert read_metadata(tmp_path / "b.onnx")["hwnas.bn_calibration"].startswith("4 images")
    x = np.random.default_rng(1).standard_normal((1, 3, 160, 160)).astype(np.float32)
    ya, yb = (
        _ort(tmp_path / "a.onnx").run(None, {"input": x})[0],
        _ort(tmp_path / "b.onnx").run(None, {"input": x})[0],
    )
    assert np.abs(ya - yb).max() > 1e-3, "recalibrated BN statistics did not change the network"
    assert base["bn_calibrated_images"] == 0


def test_device_prediction_beside_the_measurement(assets, tmp_path):
    pytest.importorskip(
        "latency.device", reason="the latency package (load_device) is not here yet"
    )
    note10 = assets / "ofa" / "note10"
    if not note10.is_dir():
        pytest.skip(f"{note10} is absent")
    from latency import load_device

    arch = Arch.smallest(160)
    r = export_onnx(arch, get_space(1.2), tmp_path / "s.onnx", device=str(note10), **FAST)
    assert r["predicted_ms"] == pytest.approx(
        float(load_device(str(note10), 1.2).predict_ms(arch.to_array()[None])[0])
    )
    # OFA's tables were not measured by hwnas: the export is timed by make_profiler("ort"), one
    # thread
    assert 1 < r["predicted_ms"] < 100 and r["ort_threads"] == 1


def test_device_threads_are_used_for_the_measurement(tmp_path):
    pytest.importorskip(
        "latency.device", reason="the latency package (load_device) is not here yet"
    )
    from latency import load_device

    try:
        dev = load_device("cpu-ort", 1.2)
    except HwnasError as exc:
        pytest.skip(f"the shipped cpu-ort device is not complete here: {exc}")
    if dev.meta.get("backend") != "ort" or not isinstance(dev.meta.get("threads"), int):
        pytest.skip("cpu-ort is not an ORT device with a thread count")
    try:
        r = export_onnx(
            Arch.smallest(160), get_space(1.2), tmp_path / "s.onnx", device="cpu-ort", **FAST
        )
    except HwnasError as exc:
        pytest.skip(f"cpu-ort cannot predict this arch yet: {exc}")
    assert r["ort_threads"] == dev.meta["threads"] and r["predicted_ms"] > 0
    assert r["ort_latency_ms"] > 0 and r["device"]


def test_export_is_timed_with_the_device_profiler_settings():
    from latency import load_device

    try:
        dev = load_device("cpu-ort", 1.2)
    except HwnasError as exc:
        pytest.skip(f"the shipped cpu-ort device is not complete here: {exc}")
    settings = export_profiler(dev).settings()
    for key in ("backend", "execution_provider", "threads", "batch_size", "timer", "ort"):
        assert settings[key] == dev.meta[key], key
    two = export_profiler(dev, ort_threads=2).settings()
    assert (
        two["threads"] == 2 and two["timer"] == "wall" and two["ort"]["intra_op_num_threads"] == 2
    )
    plain = export_profiler().settings()  # no device: make_profiler("ort"), one thread
    assert plain["threads"] == 1 and plain["execution_provider"] == "CPUExecutionProvider"


# ---- the command ---------------------------------------------------------------------------------


def test_cli_json_from_a_run_folder(tmp_path, capsys):
    from hwnas.cli import main

    run = _make_run(tmp_path / "run")
    out = tmp_path / "pick0.onnx"
    rc = main(
        ["export", str(run), "--pick", "0", "--onnx", str(out), "--latency-runs", "2", "--json"]
    )
    cap = capsys.readouterr()
    assert rc == 0
    r = json.loads(cap.out)
    assert r["onnx"] == str(out) and r["max_abs_diff"] <= PARITY_TOL and r["ort_latency_ms"] > 0
    assert r["mflops"] == pytest.approx(
        macs_params(get_space(1.0), Arch.smallest(160).to_array()[None])[0][0] / 1e6
    )
    assert r["arch_id"] == Arch.smallest(160).id and r["width"] == 1.0
    assert "RANDOM" in cap.err and math.isfinite(r["export_s"])


def test_cli_human_and_errors(tmp_path, capsys):
    from hwnas.cli import main

    Arch.smallest(160).save(tmp_path / "a.json")
    assert (
        main(
            [
                "export",
                str(tmp_path / "a.json"),
                "--onnx",
                str(tmp_path / "a.onnx"),
                "--latency-runs",
                "1",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert (
        "parity batch 1: max abs diff" in text
        and "ONNX Runtime latency" in text
        and "RANDOM" in text
    )
    assert main(["export", str(tmp_path / "nope.json"), "--onnx", str(tmp_path / "b.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwnas: error: SOURCE") and len(err.strip().splitlines()) == 1
    assert (
        main(
            [
                "export",
                str(tmp_path / "a.json"),
                "--onnx",
                str(tmp_path / "b.onnx"),
                "--opset",
                "99",
            ]
        )
        == 2
    )
    assert "ONNX Runtime" in capsys.readouterr().err
