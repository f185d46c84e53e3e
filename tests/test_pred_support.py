"""Support for the accuracy-side tests: small real oracles with controllable timing and failures,
and the child process of the kill -9 test. (No tests here.)"""

from __future__ import annotations

import sys
import time

import numpy as np

from hwnas.arch import validate
from hwnas.cost import mflops
from predictors.base import Answer, Oracle


class MacsOracle(Oracle):
    """A deterministic oracle: accuracy = a smooth function of MACs. Counts the archs it is
    asked."""

    name = "test-macs"

    def __init__(self, space, delay: float = 0.0, fail_every: int = 0):
        super().__init__(space)
        self.delay, self.fail_every = delay, fail_every
        self.asked = 0

    def evaluate(self, X):
        return [a for _, a in sorted(self.evaluate_iter(X), key=lambda t: t[0])]

    def evaluate_iter(self, X):
        X = validate(X)
        acc = 0.6 + 0.2 * np.tanh(mflops(self.space, X) / 600.0)
        for i in range(len(X)):
            if self.delay:
                time.sleep(self.delay)
            self.asked += 1
            if self.fail_every and self.asked % self.fail_every == 0:
                yield (
                    i,
                    (
                        Answer(float("nan"), self.delay)
                        if self.asked % 2
                        else Answer(float("nan"), self.delay, "simulated out of memory")
                    ),
                )
            else:
                yield i, Answer(float(acc[i]), self.delay)


def _child(store_path: str, n: int) -> None:
    """Evaluate n archs slowly into the store; the parent kills this process mid-batch."""
    from hwnas.arch import sample
    from hwnas.space import get_space
    from predictors.evaluator import Evaluator
    from predictors.store import EvalStore

    space = get_space(1.2)
    X = sample(n, np.random.default_rng(5), space.resolutions)
    with EvalStore(store_path) as store:
        print("ready", flush=True)
        Evaluator(MacsOracle(space, delay=0.15), store).evaluate(X)
    print("done", flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
