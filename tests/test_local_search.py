"""``local-search``: the climb stays within the budget and beats its random start."""

from hwnas import get_space
from hwnas.search import SearchConfig, run_search

from .search_helpers import SyntheticOracle

SPACE = get_space(1.2)


def test_climb_stays_feasible_and_improves_on_its_start(tmp_path):
    cfg = SearchConfig(
        flops="600M", queries=40, seed=0, algorithm="local-search", out=str(tmp_path)
    )
    r = run_search(cfg, oracle=SyntheticOracle(SPACE))
    rows = (tmp_path / "history.csv").read_text().splitlines()[1:]
    acc = [float(row.split(",")[2]) for row in rows]
    assert r["queries"] == 40 and r["best"]["mflops"] <= 600
    assert max(acc) > max(acc[:10]) and ",climb," in "".join(rows)
