"""What ``hwnas export`` exports: an arch JSON, a ``best.json``, or a search run folder -> ``(Arch,
Space)``."""

from __future__ import annotations

import csv
from pathlib import Path

from .arch import Arch, load_json
from .errors import HwnasError
from .space import check_width, get_space

_SOURCE_FORMS = (
    "an arch JSON file, a best.json, or a search run folder (with best.json / pareto.csv)"
)


def _run_space(folder: Path, fallback_width=None):
    """The space a run folder was searched in: ``run.yaml`` ``space:`` (or ``settings:``) ``{width,
    resolutions}``."""
    width, resolutions = fallback_width, None
    run_yaml = folder / "run.yaml"
    if run_yaml.is_file():
        import yaml

        try:
            cfg = yaml.safe_load(run_yaml.read_text()) or {}
        except yaml.YAMLError as exc:
            raise HwnasError(
                f"run file {str(run_yaml)!r} is not valid YAML: {str(exc).splitlines()[0]}"
            ) from None
        # run.yaml: space: {width, resolutions} (or the search settings)
        for key in ("space", "settings"):
            sp = cfg.get(key) if isinstance(cfg, dict) else None
            if isinstance(sp, dict) and (sp.get("width") is not None or sp.get("resolutions")):
                width = sp.get("width") if sp.get("width") is not None else width
                resolutions = sp.get("resolutions")
                break
    width = 1.2 if width is None else check_width(width)
    if resolutions:
        return get_space(width, tuple(int(r) for r in resolutions))
    return get_space(width)


def _pick_index(pick) -> int:
    try:
        n = int(pick)
    except (TypeError, ValueError):
        raise HwnasError(
            f"--pick {pick!r} is not allowed; allowed: best, or a row number 0, 1, "
            f"... of pareto.csv"
        ) from None
    if n < 0 or str(pick).strip().startswith("-"):
        raise HwnasError(
            f"--pick {pick!r} is negative; allowed: best, or a row number 0, 1, ... of pareto.csv"
        )
    return n


def _read_pareto(path: Path, n: int) -> Arch:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or "arch" not in rows[0]:
        raise HwnasError(
            f"{str(path)!r} has no 'arch' column; expected header "
            f"arch_id,accuracy,mflops,params_m,latency_ms,arch"
        )
    if n >= len(rows):
        raise HwnasError(
            f"--pick {n} is past the end of {str(path)!r}; allowed: best, or 0..{len(rows) - 1}"
        )
    return Arch.from_json(rows[n]["arch"])


def resolve_source(source, pick="best", width=None) -> tuple:
    """``(Arch, Space)`` from SOURCE: an arch JSON file, a ``best.json`` or a search run folder.

    ``pick`` is ``"best"`` (the run's ``best.json``) or ``N``: row N (0-based) of the run's
    ``pareto.csv`` (rows sorted by MFLOPs ascending); a row number needs a run folder. The width
    comes from the run (``run.yaml``, ``best.json``'s ``"width"``), else from ``width``, else 1.2;
    an explicit ``width`` that contradicts the run is an error.
    """
    p = Path(source)
    want = None if width is None else check_width(width)
    if p.is_dir():
        best = p / "best.json"
        if str(pick) == "best":
            if not best.is_file():
                raise HwnasError(
                    f"run folder {str(source)!r} has no best.json; pass --pick N to "
                    f"take row N of pareto.csv"
                )
            obj = load_json(best)
            if not isinstance(obj, dict) or not isinstance(obj.get("arch"), dict):
                raise HwnasError(f'{str(best)!r} has no "arch" object; it is not a hwnas best.json')
            arch = Arch.from_dict(obj["arch"])
            space = _run_space(p, obj.get("width"))
        else:
            n = _pick_index(pick)
            pareto = p / "pareto.csv"
            if not pareto.is_file():
                raise HwnasError(f"run folder {str(source)!r} has no pareto.csv for --pick {pick}")
            arch = _read_pareto(pareto, n)
            width_hint = load_json(best).get("width") if best.is_file() else None
            space = _run_space(p, width_hint)
        if want is not None and want != space.width:
            raise HwnasError(
                f"--width {want} contradicts the run's width {space.width}; allowed "
                f"here: {space.width}"
            )
        return arch, space
    if not p.exists():
        raise HwnasError(f"SOURCE {str(source)!r} does not exist; allowed: {_SOURCE_FORMS}")
    if not p.is_file():
        raise HwnasError(f"SOURCE {str(source)!r} is none of: {_SOURCE_FORMS}")
    if str(pick) != "best":
        raise HwnasError(
            f"--pick {pick} needs a search run folder as SOURCE, got the file {str(source)!r}"
        )
    try:
        obj = load_json(p)
    except HwnasError as exc:
        raise HwnasError(f"SOURCE {str(source)!r} is none of: {_SOURCE_FORMS} ({exc})") from None
    if not isinstance(obj, dict):
        raise HwnasError(
            f"SOURCE {str(source)!r} is a JSON {type(obj).__name__}, none of the "
            f"accepted forms; allowed: {_SOURCE_FORMS}"
        )
    if isinstance(obj.get("arch"), dict):  # best.json
        arch = Arch.from_dict(obj["arch"])
        found = obj.get("width")
    elif all(k in obj for k in ("ks", "e", "d")):  # arch JSON
        arch = Arch.from_dict(obj)
        found = obj.get("width")
    else:
        raise HwnasError(
            f'SOURCE {str(source)!r} has neither ks/e/d nor an "arch" object; '
            f"allowed: {_SOURCE_FORMS}"
        )
    if found is not None:
        found = check_width(found)
        if want is not None and want != found:
            raise HwnasError(
                f"--width {want} contradicts SOURCE's width {found}; allowed here: {found}"
            )
    w = found if found is not None else (want if want is not None else 1.2)
    return arch, get_space(w)
