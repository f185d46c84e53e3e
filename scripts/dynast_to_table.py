"""Convert Intel DyNAS-T's published OFA MobileNetV3 result CSVs into an hwnas accuracy table.

DyNAS-T (github.com/IntelLabs/DyNAS-T, Apache-2.0) ships ``notebooks/data/mbnv3w10_*.csv``: OFA
``ofa_mbv3_d234_e346_k357_w1.0`` subnets at 224 px whose ImageNet top-1 its OFA runner measured with
the supernet, one row per evaluation of its searches (columns ``Sub-network`` -- a Python dict
literal ``{'wid': None, 'ks': [...], 'e': [...], 'd': [...], 'r': [224]}`` --, ``MACs``,
``Top-1 Acc (%)``). Output: an hwnas table (CSV: ``arch``, ``accuracy`` as a fraction), one row
per distinct subnet (an arch measured more than once keeps the mean of its measurements), ready
for ``--pool FILE --oracle table --table FILE --width 1.0 --resolutions 224``.

The data is not part of hwnas: point this script at your own copy.
Usage: python scripts/dynast_to_table.py OUT.csv mbnv3w10_*.csv
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict


def read_dynast(path) -> list:
    """[(arch dict, top-1 fraction)] from one DyNAS-T results CSV (no eval: the Python dict
    literal is rewritten as JSON)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            text = row["Sub-network"].replace("'", '"').replace("None", "null")
            arch = json.loads(text)
            r = arch["r"][0] if isinstance(arch["r"], list) else arch["r"]
            out.append(
                (
                    {"ks": arch["ks"], "e": arch["e"], "d": arch["d"], "r": r},
                    float(row["Top-1 Acc (%)"]) / 100.0,
                )
            )
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    from hwnas.arch import Arch

    acc = defaultdict(list)
    arch_of = {}
    for path in argv[1:]:
        for arch, a in read_dynast(path):
            a_obj = Arch.from_dict(arch)
            acc[a_obj.id].append(a)
            arch_of[a_obj.id] = a_obj
    with open(argv[0], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "accuracy"])
        for arch_id, values in acc.items():
            w.writerow([arch_of[arch_id].to_json(), repr(sum(values) / len(values))])
    n = sum(len(v) for v in acc.values())
    print(f"{len(acc)} distinct subnets from {n} rows -> {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
