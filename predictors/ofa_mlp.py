"""``ofa-mlp``: OFA's published ImageNet accuracy predictor as an oracle (w1.2 space only).

The predictor is ``Sequential(Linear(128,400), ReLU, Linear(400,400), ReLU, Linear(400,400), ReLU,
Linear(400,1))`` over OFA's 128-d encoding: kernel one-hot (20 x 3, order 3,5,7), expand one-hot
(20 x 3, order 3,4,6), resolution one-hot (8 slots, ``(r - 112) // 16``); inactive blocks all-zero.
Its output is top-1 as a fraction on OFA's 10k-image ImageNet hold-out split. Every answer is
evaluated batch-invariantly (:mod:`predictors.invariant_mlp`): the same number for an arch whatever
batch, position or executor (local, Ray) it is evaluated in.
"""

from __future__ import annotations

import time

import numpy as np

from hwnas.arch import active_mask, validate
from hwnas.errors import HwnasError
from hwnas.paths import check_checkpoint
from hwnas.space import E_COLS, KS_COLS, R_COL

from .assets import ACC_PREDICTOR, MANIFEST, find_asset, searched_text, sha256_file
from .base import Answer, Oracle
from .features import _E_IDX, _KS_IDX, one_hot
from .invariant_mlp import InvariantMLP

MIN_R, MAX_R = 112, 239  # the 8 resolution slots of OFA's encoding: 112..239 px


def ofa_encode(X) -> np.ndarray:
    """OFA's 128-d accuracy-predictor encoding of an ``(N, 46)`` batch (float32, vectorised)."""
    X = np.asarray(X, dtype=np.int64)
    r = X[:, R_COL]
    bad = (r < MIN_R) | (r > MAX_R)
    if bad.any():
        raise HwnasError(
            f"resolution {int(r[bad][0])} is outside OFA's accuracy predictor range; "
            f"allowed: {MIN_R}..{MAX_R}"
        )
    active = active_mask(X)
    r_onehot = ((r - MIN_R) // 16)[:, None] == np.arange(8)[None, :]
    return np.concatenate(
        [
            one_hot(_KS_IDX[X[:, KS_COLS]], 3, active),
            one_hot(_E_IDX[X[:, E_COLS]], 3, active),
            r_onehot.astype(np.float32),
        ],
        axis=1,
    )


def load_acc_predictor(path):
    """The predictor as a torch module (float32, eval mode) from a state-dict file."""
    import torch
    from torch import nn

    model = nn.Sequential(
        nn.Linear(128, 400),
        nn.ReLU(),
        nn.Linear(400, 400),
        nn.ReLU(),
        nn.Linear(400, 400),
        nn.ReLU(),
        nn.Linear(400, 1),
    )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    # torch's own text is long and about torch; say what is wrong and the fix
    except Exception as exc:
        kind = (
            "is not OFA's acc_predictor state dict"
            if isinstance(exc, (KeyError, RuntimeError))
            else "cannot be read as a PyTorch checkpoint"
        )
        raise HwnasError(
            f"accuracy predictor {str(path)!r} {kind} ({type(exc).__name__}); "
            f"{_fix(sha256_file(path))}"
        ) from None
    return model.eval()


def _fix(sha: str) -> str:
    want = MANIFEST[ACC_PREDICTOR]
    if sha == want:
        return "its sha256 is that of OFA's published file"
    return (
        f"its sha256 is {sha[:12]}..., OFA's published file has {want}; run `hwnas assets "
        f"fetch --force` "
        "to download it again"
    )


def find_acc_predictor(explicit=None):
    """Path of OFA's predictor (``--acc-predictor``, ``$HWNAS_ASSETS``, cache dir) or None."""
    return find_asset(ACC_PREDICTOR, explicit)


class OfaMlpOracle(Oracle):
    """OFA's accuracy predictor. Cheap (microseconds per arch) but only a model of the truth."""

    name = "ofa-mlp"
    reads = ("acc_predictor",)

    def __init__(self, space, acc_predictor=None, batch_size: int = 65536):
        super().__init__(space)
        if space.width != 1.2:
            raise HwnasError(
                f"oracle ofa-mlp is OFA's predictor for the w1.2 space; width "
                f"{space.width} is not "
                "allowed (use --oracle supernet, table or zerocost for width 1.0)"
            )
        path = find_acc_predictor(acc_predictor)
        if path is None:
            raise HwnasError(
                f"OFA's accuracy predictor ({ACC_PREDICTOR}) was not found; searched: "
                f"{searched_text(ACC_PREDICTOR)}; run `hwnas assets fetch` or pass "
                f"--acc-predictor PATH"
            )
        self.path = str(path)
        self.sha256 = sha256_file(path)
        check_checkpoint(path, "accuracy predictor", _fix(self.sha256))
        # "2": batch-invariant answers; those of another predictor file never mix
        self.version = "2+" + self.sha256[:8]
        self.batch_size = int(batch_size)
        self._model = None
        # a damaged file is reported now, before a run folder is made (the file is small)
        _ = self.model

    @classmethod
    def from_settings(cls, space, settings, **kw) -> "OfaMlpOracle":
        """See :meth:`Oracle.from_settings`: reads ``acc_predictor`` (None: searched for)."""
        return cls(space, acc_predictor=settings.get("acc_predictor"), **kw)

    def __getstate__(self):  # ship the path, not the module
        d = dict(self.__dict__)
        d["_model"] = None
        return d

    @property
    def model(self) -> InvariantMLP:
        """OFA's accuracy-predictor MLP, loaded from its file on first use."""
        if self._model is None:
            self._model = InvariantMLP(load_acc_predictor(self.path))
        return self._model

    def predict(self, X) -> np.ndarray:
        """Accuracy fractions, float64 ``(N,)`` (vectorised; the batch need not be canonical)."""
        X = np.asarray(X, dtype=np.int64)
        out = np.empty(len(X), dtype=np.float64)
        for s in range(0, len(X), self.batch_size):
            out[s : s + self.batch_size] = self.model(ofa_encode(X[s : s + self.batch_size]))[:, 0]
        return out

    def evaluate(self, X) -> list:
        """One Answer per row: OFA's predicted top-1 accuracy (fraction 0..1), and seconds per
        arch."""
        X = validate(X)
        _ = self.model  # loading the file is not part of the answers' cost
        t0 = time.perf_counter()
        acc = self.predict(X)
        per = (time.perf_counter() - t0) / max(len(X), 1)
        return [
            Answer(float(a), per)
            if np.isfinite(a)
            else Answer(float("nan"), per, "predictor returned NaN")
            for a in acc
        ]
