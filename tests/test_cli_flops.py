import json

import pytest

from hwnas import Arch, get_space
from hwnas.ofa_interop import net_config

from .conftest import run_cli


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_flops_json_is_one_object(tmp_path):
    p = write(tmp_path, "a.json", Arch.largest(224).to_dict())
    out = run_cli("flops", p, "--json")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert set(obj) >= {"mflops", "params_m"}
    assert obj["mflops"] == pytest.approx(843.10104) and obj["params_m"] == pytest.approx(10.701632)
    assert len(out.stdout.strip().splitlines()) == 1


def test_flops_width_and_net_config(tmp_path):
    arch = Arch.largest(224)
    p = write(tmp_path, "a.json", arch.to_dict())
    w10 = json.loads(run_cli("flops", p, "--width", "1.0", "--json").stdout)
    assert round(w10["mflops"]) == 566
    cfg = write(tmp_path, "net.config", net_config(get_space(1.0), arch))
    out = run_cli("flops", "--net-config", cfg, "--resolution", 224, "--width", "1.0", "--json")
    assert json.loads(out.stdout)["mflops"] == w10["mflops"]
    human = run_cli("flops", p)
    assert "843.10 MFLOPs" in human.stdout and "multiply-accumulates" in human.stdout


BAD_ARCHS = {
    "kernel size 4": {"ks": [4] + [3] * 19, "e": [3] * 20, "d": [2] * 5, "r": 224},
    "ks has 19 values": {"ks": [3] * 19, "e": [3] * 20, "d": [2] * 5, "r": 224},
    "e has 21 values": {"ks": [3] * 20, "e": [3] * 21, "d": [2] * 5, "r": 224},
    "depth 5": {"ks": [3] * 20, "e": [3] * 20, "d": [5, 2, 2, 2, 2], "r": 224},
    "resolution 100": {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 100},
    "resolution 'big'": {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": "big"},
}


@pytest.mark.parametrize("needle", list(BAD_ARCHS))
def test_bad_arch_exits_2_with_one_line(tmp_path, needle):
    out = run_cli("flops", write(tmp_path, "a.json", BAD_ARCHS[needle]))
    assert out.returncode == 2
    err = out.stderr.strip()
    assert len(err.splitlines()) == 1 and needle in err and "allowed" in err
    assert out.stdout == ""


def test_malformed_json_and_missing_file(tmp_path):
    out = run_cli("flops", write(tmp_path, "a.json", '{"ks": [3,'))
    assert out.returncode == 2 and "malformed JSON" in out.stderr
    out = run_cli("flops", tmp_path / "nope.json")
    assert out.returncode == 2 and "does not exist" in out.stderr and "nope.json" in out.stderr


def test_net_config_of_other_family_or_width(tmp_path):
    cfg12 = net_config(get_space(1.2), Arch.smallest(160))
    out = run_cli(
        "flops",
        "--net-config",
        write(tmp_path, "c.json", cfg12),
        "--resolution",
        160,
        "--width",
        "1.0",
    )
    assert out.returncode == 2 and "width 1.2" in out.stderr and "1.0" in out.stderr
    for family in ("ResNets", "ProxylessNASNets"):
        bad = dict(cfg12, name=family)
        out = run_cli(
            "flops", "--net-config", write(tmp_path, f"{family}.json", bad), "--resolution", 160
        )
        assert out.returncode == 2 and family in out.stderr and "MobileNetV3" in out.stderr
    out = run_cli("flops", "--net-config", write(tmp_path, "c.json", cfg12))
    assert out.returncode == 2 and "--resolution" in out.stderr
    out = run_cli("flops", "--net-config", write(tmp_path, "c.json", cfg12), "--resolution", "abc")
    assert out.returncode == 2 and "abc" in out.stderr
