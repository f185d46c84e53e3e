import json

import numpy as np
import pytest

from hwnas import Arch, HwnasError, get_space
from hwnas import arch as A
from hwnas.space import N_GENES


def test_canonical_form_equal_networks_compare_and_hash_equal():
    d = [2, 3, 4, 2, 3]
    ks1 = [3, 5, 7, 7] * 5
    ks2 = list(ks1)
    ks2[2], ks2[3] = 5, 3  # stage 0 runs only 2 blocks: these genes are inactive
    a, b = Arch(ks1, [4] * 20, d, 192), Arch(ks2, [4] * 20, d, 192)
    assert a == b and hash(a) == hash(b) and a.id == b.id
    assert a.ks[2] == 3 and a.e[3] == 3
    c = Arch(ks1, [4] * 20, [3, 3, 4, 2, 3], 192)
    assert c != a and c.id != a.id


def test_id_is_stable_across_processes():
    # a fixed value: changing it breaks every stored evaluation, so it must be deliberate
    assert Arch.largest(224).id == Arch.from_json(Arch.largest(224).to_json()).id
    assert len(Arch.largest(224).id) == 12
    assert Arch.largest(224).id == "87d0e4097365"


def test_json_forms():
    a = Arch.largest(208)
    assert Arch.from_json(a.to_json()) == a
    ofa_form = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": [208]}
    assert Arch.from_dict(ofa_form) == a
    assert Arch.from_dict({"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "image_size": 208}) == a
    assert json.loads(a.to_json()) == {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5, "r": 208}


@pytest.mark.parametrize(
    "mutate,needle",
    [
        (lambda o: o["ks"].__setitem__(0, 4), "kernel size 4"),
        (lambda o: o.__setitem__("ks", [3] * 19), "ks has 19 values"),
        (lambda o: o.__setitem__("e", [3] * 21), "e has 21 values"),
        (lambda o: o["d"].__setitem__(1, 5), "depth 5"),
        (lambda o: o.__setitem__("r", 100), "resolution 100"),
        (lambda o: o.__setitem__("r", "224"), "resolution '224'"),
        (lambda o: o["e"].__setitem__(3, 5), "expand ratio 5"),
        (lambda o: o.pop("d"), "missing d"),
    ],
)
def test_bad_genes_are_one_line_errors(mutate, needle):
    obj = Arch.largest().to_dict()
    mutate(obj)
    with pytest.raises(HwnasError) as err:
        Arch.from_dict(obj)
    msg = str(err.value)
    assert needle in msg and "\n" not in msg
    assert "allowed" in msg or "required" in msg


def test_malformed_json():
    with pytest.raises(HwnasError, match="malformed JSON"):
        Arch.from_json("{ks: [3]")


def test_batched_roundtrip_and_canonical_sampling():
    rng = np.random.default_rng(0)
    X = A.sample(500, rng, [160, 224])
    assert X.shape == (500, N_GENES) and X.dtype == np.int64
    archs = A.decode(X)
    assert np.array_equal(A.encode(archs), X)  # sampled rows are already canonical
    assert A.row_ids(X[:3]) == [a.id for a in archs[:3]]
    assert set(np.unique(X[:, -1])) == {160, 224}


def test_mutation_and_crossover_stay_valid_and_change_things():
    rng = np.random.default_rng(1)
    X = A.sample(200, rng, [160, 224])
    M = A.mutate(X, rng, prob=0.1, resolutions=[160, 224])
    assert np.array_equal(A.validate(M), M)
    assert (M != X).any(axis=1).mean() > 0.5
    assert np.array_equal(A.mutate(X, rng, prob=0.0, resolutions=[160]), X)
    C = A.crossover(X[:100], X[100:], rng)
    assert np.array_equal(A.validate(C), C)
    from_a = (C == X[:100]) | (C == X[100:])
    # every active gene of a child comes from one of its parents
    act = A.active_mask(C)
    assert from_a[:, :20][act].all() and from_a[:, 40:].all()


def test_validate_batch_rejects_bad_values():
    X = A.encode([Arch.largest()])
    X[0, 0] = 4
    with pytest.raises(HwnasError, match="kernel size 4"):
        A.validate(X)


def test_space_registry_and_resolutions():
    s = get_space("ofa-mbv3-w1.0")
    assert s.width == 1.0 and get_space(1.0) is s
    assert get_space(1.2).stage_channels == (32, 48, 96, 136, 192)
    with pytest.raises(HwnasError, match="width 1.5"):
        get_space(1.5)
    with pytest.raises(HwnasError, match="resolution 200 is not in"):
        get_space(1.2).check_search_resolution(200)


def test_row_keys_are_the_genes_base_3_and_first_occurrences_keep_the_first_of_each_arch():
    rng = np.random.default_rng(4)
    X = A.sample(300, rng, [160, 192, 224])
    X = np.concatenate([X, X[rng.integers(0, 300, 200)]])  # 200 repeats, out of order
    k1, k2 = A.row_keys(X)
    for row, a, b in zip(X[:20], k1[:20], k2[:20], strict=True):
        row = row.tolist()  # Python ints: the key exceeds int64
        digits = [(k - 3) // 2 for k in row[:20]] + [(3, 4, 6).index(e) for e in row[20:40]]
        assert int(a) == sum(d * 3**i for i, d in enumerate(digits))
        assert int(b) == sum((d - 2) * 3**i for i, d in enumerate(row[40:45])) * 1024 + row[45]
    largest = A.row_keys(Arch.largest(224).to_array()[None, :])[0][0]
    assert int(largest) == 3**40 - 1  # above 2**63: the key is exact in uint64
    first_of = {}
    for i, arch_id in enumerate(A.row_ids(X)):
        first_of.setdefault(arch_id, i)
    first = A.first_occurrences(X)
    assert first.tolist() == sorted(first_of.values()) and len(first) == 300
    assert np.array_equal(A.unique_rows(X), X[first])
