"""``hwnas assets``: find or download OFA's published files (accuracy predictor, note10 latency
tables).

``hwnas assets fetch`` downloads them from the URLs the ``ofa`` package uses, checks sha256, and
stores them in the user cache dir (``$HWNAS_CACHE`` or ``~/.cache/hwnas``); ``hwnas assets list``
says where each one is found (``$HWNAS_ASSETS`` first, then the cache dir).
"""

from __future__ import annotations

from predictors import assets

from ..errors import HwnasError


def add_arguments(p) -> None:
    p.description = (
        "Find (list) or download (fetch) OFA's published assets. fetch "
        "verifies sha256 "
        "and writes atomically into the cache dir ($HWNAS_CACHE or "
        "~/.cache/hwnas)."
    )
    p.add_argument(
        "action",
        choices=("fetch", "list"),
        help="fetch: download missing files; list: where each is found",
    )
    p.add_argument(
        "--base-url",
        default=None,
        metavar="URL",
        help="download from this mirror instead of OFA's (files at URL/ofa/...)",
    )
    p.add_argument(
        "--dest", default=None, metavar="DIR", help="store here instead of the cache dir"
    )
    p.add_argument(
        "--only", choices=("acc-predictor", "note10"), default=None, help="fetch only these files"
    )
    p.add_argument(
        "--force", action="store_true", help="download even files already present and valid"
    )


def run(args) -> dict:
    if args.action == "list":
        idle = [
            flag
            for flag, v in (
                ("--base-url", args.base_url),
                ("--dest", args.dest),
                ("--force", args.force),
            )
            if v
        ]
        if idle:
            raise HwnasError(f"{idle[0]} applies to `hwnas assets fetch`, not to list")
    names = list(assets.MANIFEST)
    if args.only == "acc-predictor":
        names = [assets.ACC_PREDICTOR]
    elif args.only == "note10":
        names = [n for n in names if "/note10/" in n]
    if args.action == "fetch":
        files = assets.fetch(
            names,
            base_url=args.base_url or assets.OFA_BASE_URL,
            dest=args.dest,
            force=args.force,
            progress=not args.json,
        )
        return {"action": "fetch", "dest": str(args.dest or assets.cache_dir()), "files": files}
    files = []
    for name in names:
        p = assets.find_asset(name)
        files.append(
            {
                "name": name,
                "path": None if p is None else str(p),
                "found": p is not None,
                "sha256_ok": None if p is None else assets.sha256_file(p) == assets.MANIFEST[name],
            }
        )
    return {
        "action": "list",
        "searched": [f"{label} {root}" for label, root in assets.search_roots()],
        "files": files,
    }


def human(result: dict) -> str:
    lines = []
    if result["action"] == "fetch":
        for f in result["files"]:
            lines.append(f"{f['status']:10s} {f['name']} -> {f['path']}")
        lines.append(f"all {len(result['files'])} files verified (sha256) in {result['dest']}")
    else:
        lines.append("searched: " + "; ".join(result["searched"]))
        for f in result["files"]:
            state = "missing" if not f["found"] else ("ok" if f["sha256_ok"] else "sha256 MISMATCH")
            lines.append(f"{state:15s} {f['name']}" + (f" ({f['path']})" if f["path"] else ""))
        if any(not f["found"] for f in result["files"]):
            lines.append("run `hwnas assets fetch` to download the missing files")
    return "\n".join(lines)
