"""``local-search``: neighbours differ in one gene; the climb never leaves the budget."""

import numpy as np

from hwnas import get_space
from hwnas.arch import Arch
from hwnas.search import SearchConfig, run_search
from hwnas.search.local_search import neighbours

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def test_neighbours_change_one_active_gene():
    x = Arch.largest(224).to_array()
    nb = neighbours(x, (192, 208, 224))
    changed = (nb != x).sum(axis=1)
    assert len(nb) == 20 * 2 * 2 + 5 * 2 + 2  # ks and e of 20 blocks, 5 depths, 2 resolutions
    assert (changed[:80] == 1).all()  # shallower stages also reset the dropped blocks' genes
    assert len(np.unique(nb, axis=0)) == len(nb)


def test_climb_stays_feasible_and_improves_on_its_start(tmp_path):
    cfg = SearchConfig(flops="600M", queries=40, seed=0, algorithm="local-search",
                       out=str(tmp_path))
    r = run_search(cfg, oracle=SyntheticOracle(SPACE))
    rows = (tmp_path / "history.csv").read_text().splitlines()[1:]
    acc = [float(row.split(",")[2]) for row in rows]
    assert r["queries"] == 40 and r["best"]["mflops"] <= 600
    assert max(acc) > max(acc[:10]) and ",climb," in "".join(rows)
