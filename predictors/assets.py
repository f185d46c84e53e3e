"""OFA's published assets: where hwnas looks for them, and how ``hwnas assets fetch`` gets them.

An asset is named by its path relative to an assets root, e.g. ``ofa/acc_predictor.pth``. Roots are
searched in order: ``$HWNAS_ASSETS``, then the user cache dir (``$HWNAS_CACHE``, else
``~/.cache/hwnas``). ``fetch`` downloads from the URLs the ``ofa`` package itself uses
(``ofa/tutorial/accuracy_predictor.py``, ``ofa/tutorial/latency_table.py``), checks sha256 and
writes into the cache dir atomically, so a partial or corrupted download never lands there.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from hwnas.cache import cache_root
from hwnas.errors import HwnasError
from hwnas.paths import input_file, output_dir

# The base URL of OFA's file repository, as used by the ofa package.
OFA_BASE_URL = "https://raw.githubusercontent.com/han-cai/files/master"
ACC_PREDICTOR = "ofa/acc_predictor.pth"

# relative path -> sha256 of the published file
MANIFEST = {
    ACC_PREDICTOR: "48685122a3540636b06699af66cd816456b25f29b69563e2fda9bed4018eeba0",  # noqa: E501
    "ofa/note10/160_lookup_table.yaml": "a2671a45e9400542679ed03de946b45d6a35010f9ab21834af3e7ba8341d36d1",  # noqa: E501
    "ofa/note10/176_lookup_table.yaml": "34223ae037d5719a5f33261bdfd9341f590a2999edf520f174309605dc06307c",  # noqa: E501
    "ofa/note10/192_lookup_table.yaml": "0ff5ca0649e56ad34a42d6a8a6f20adb5121c8d12d135299397b310472db79e2",  # noqa: E501
    "ofa/note10/208_lookup_table.yaml": "41aa63af766a8298354e6aa5ae69d512ac68656a6e7d0a4fa5dc725c8d438633",  # noqa: E501
    "ofa/note10/224_lookup_table.yaml": "c13a9bcb3f4becae844bce4897129c4e42975984c1029cbd5acb48c970136530",  # noqa: E501
}


def cache_dir() -> Path:
    """The user cache dir (``hwnas.cache.cache_root``: ``$HWNAS_CACHE``, XDG,
    ``~/.cache/hwnas``)."""
    return cache_root()


def search_roots() -> list:
    """``[(label, Path)]`` in search order: ``$HWNAS_ASSETS`` (if set), then the cache dir."""
    roots = []
    env = os.environ.get("HWNAS_ASSETS")
    if env:
        roots.append(("$HWNAS_ASSETS", Path(env).expanduser()))
    roots.append(("cache", cache_dir()))
    return roots


def find_asset(name: str, explicit=None):
    """Path of asset ``name`` (e.g. ``ofa/note10/160_lookup_table.yaml``), or None when absent.

    ``explicit`` (a user-given path) wins and must exist.
    """
    if explicit is not None:
        return input_file(explicit, "--acc-predictor")
    for _, root in search_roots():
        p = root / name
        if p.is_file():
            return p
    return None


def searched_text(name: str) -> str:
    """One-line list of the places searched for ``name`` (for error messages)."""
    return "; ".join(f"{label} {root / name}" for label, root in search_roots())


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch(
    names=None,
    base_url: str = OFA_BASE_URL,
    dest=None,
    force: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> list:
    """Download assets into ``dest`` (default: the cache dir); returns one dict per asset.

    Already-present files with the right sha256 are kept (``"status": "present"``). A sha256
    mismatch is an :class:`HwnasError` and leaves nothing behind.
    """
    names = list(MANIFEST) if names is None else list(names)
    unknown = [n for n in names if n not in MANIFEST]
    if unknown:
        raise HwnasError(f"asset {unknown[0]!r} is unknown; allowed: {', '.join(MANIFEST)}")
    if not str(base_url).startswith(("http://", "https://", "file://")):
        raise HwnasError(
            f"--base-url {base_url!r} is not a URL; allowed: http://..., https://... or file://..."
        )
    dest = output_dir(dest if dest is not None else cache_dir(), "--dest")
    out = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(names), desc="hwnas assets", unit="file")
    try:
        for name in names:
            target = dest / name
            want = MANIFEST[name]
            if target.is_file() and not force and sha256_file(target) == want:
                out.append({"name": name, "path": str(target), "sha256": want, "status": "present"})
            else:
                url = base_url.rstrip("/") + "/" + name
                _download(url, target, want, timeout)
                out.append(
                    {
                        "name": name,
                        "path": str(target),
                        "sha256": want,
                        "status": "downloaded",
                        "url": url,
                    }
                )
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return out


def _download(url: str, target: Path, want_sha: str, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=target.parent)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as f:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as resp:
                    for chunk in iter(lambda: resp.read(1 << 16), b""):
                        h.update(chunk)
                        f.write(chunk)
            except urllib.error.HTTPError as exc:
                raise HwnasError(
                    f"download of {url} failed: HTTP {exc.code} {exc.reason}"
                ) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise HwnasError(
                    f"download of {url} failed: {reason}; check the network or use --base-url"
                ) from None
        got = h.hexdigest()
        if got != want_sha:
            raise HwnasError(
                f"download of {url} has sha256 {got[:16]}..., expected "
                f"{want_sha[:16]}...; not stored"
            )
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
