"""OFA's own published resolutions (its nets run at 228 and 236 px): counting, the net.config round
trip, export and latency accept every resolution 128..256; a search keeps OFA's training range.

The nets are made the way OFA publishes them: the ``net.config`` of a w1.2 subnet from OFA's own
``OFAMobileNetV3.get_active_subnet().config``, and the resolution beside it.
"""

import json

import numpy as np
import pytest

from hwnas import Arch, HwnasError, Space, get_space
from hwnas import arch as A
from hwnas.cli import main
from hwnas.ofa_interop import arch_from_net_config, build_supernet, net_config
from hwnas.space import MAX_NET_RESOLUTION, MIN_NET_RESOLUTION

from .test_cost import ofa_flops  # noqa: F401  (fixture: OFA's count_net_flops, exact)
from .test_export import A600, TrainedLike

R228 = A.decode(A.sample(1, np.random.default_rng(228), [228]))[0]
R236 = Arch(ks=A600.ks, e=A600.e, d=A600.d, r=236)  # test_export's 595M-class net, at OFA's 236 px


def _ofa_subnet(arch):
    """OFA's own subnet for ``arch``'s genes (on the meta device: only shapes are needed)."""
    import torch

    with torch.device("meta"):
        supernet = build_supernet(get_space(1.2))
    supernet.set_active_subnet(ks=list(arch.ks), e=list(arch.e), d=list(arch.d))
    return supernet.get_active_subnet(preserve_weight=False)


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("arch", [R228, R236], ids=["r228", "r236"])
def test_flops_and_round_trip_of_ofa_net_configs(arch, ofa_flops, tmp_path, capsys):  # noqa: F811
    subnet = _ofa_subnet(arch)
    path = tmp_path / "net.config"
    path.write_text(json.dumps(subnet.config, indent=4))
    code, out, err = _cli(capsys, "flops", "--net-config", path, "--resolution", arch.r, "--json")
    assert code == 0, err
    res = json.loads(out)
    assert res["resolution"] == arch.r and res["width"] == 1.2
    assert res["macs"] == ofa_flops(subnet, arch.r)
    assert res["params"] == sum(t.numel() for t in subnet.parameters())
    back, space = arch_from_net_config(json.loads(path.read_text()), arch.r)
    assert back == arch and net_config(space, back) == subnet.config


def test_every_resolution_128_to_256_round_trips():
    space = get_space(1.2)
    rng = np.random.default_rng(5)
    for r in range(MIN_NET_RESOLUTION, MAX_NET_RESOLUTION + 1):
        arch = A.decode(A.sample(1, rng, [r]))[0]
        assert arch_from_net_config(net_config(space, arch), r)[0] == arch
    for bad in (MIN_NET_RESOLUTION - 1, MAX_NET_RESOLUTION + 1):
        with pytest.raises(HwnasError, match="allowed: integers 128..256"):
            Arch.smallest(bad)


def test_a_search_keeps_the_training_range():
    assert Space(resolutions=(128, 224)).resolutions == (128, 224)
    msg = "search resolution 236 is outside OFA's training range; allowed: integers 128..224"
    with pytest.raises(HwnasError, match=msg):
        Space(resolutions=(160, 236))


def test_export_at_228_passes_parity(tmp_path, capsys):
    from hwnas.export import PARITY_TOL

    weights = TrainedLike(tmp_path)(R228)
    arch_json = tmp_path / "r228.json"
    R228.save(arch_json)
    code, out, err = _cli(
        capsys,
        "export",
        arch_json,
        "--onnx",
        tmp_path / "r228.onnx",
        "--weights",
        weights,
        "--latency-runs",
        2,
        "--json",
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["resolution"] == 228 and res["max_abs_diff"] <= PARITY_TOL
    assert res["parity"][0]["output_abs_max"] > 1.0  # trained-like logits: parity means something
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "r228.onnx"), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape == [1, 3, 228, 228]


def test_latency_at_236_names_the_profile_command_then_works_after_profiling(tmp_path, capsys):
    arch_json = tmp_path / "r236.json"
    R236.save(arch_json)
    code, out, err = _cli(capsys, "latency", arch_json, "--device", "cpu-ort")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "no latency table for resolution 236; it has: 160, 176, 192, 208, 224" in err
    assert "hwnas profile" in err and "--resolutions 236" in err

    dev = tmp_path / "dev"
    code, out, err = _cli(
        capsys,
        "profile",
        "--device",
        "t236",
        "--backend",
        "torch",
        "--out",
        dev,
        "--resolutions",
        236,
        "--rounds",
        3,
        "--group-size",
        96,
        "--no-progress",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["measured"] == 96
    code, out, err = _cli(capsys, "latency", arch_json, "--device", dev, "--json")
    assert code == 0, err
    import latency

    res = json.loads(out)
    assert res["resolution"] == 236
    assert res["latency_ms"] > 0
    expected = latency.load_device(dev).predict_ms(R236.to_array())[0]
    assert res["latency_ms"] == pytest.approx(expected)
