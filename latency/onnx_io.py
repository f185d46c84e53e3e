"""One ONNX exporter for table entries, measured subnets and ``hwnas export``.

:func:`onnx_bytes` runs PyTorch's TorchScript-based exporter (``dynamo=False``: measured ~15x faster
than the dynamo exporter here, and it honours ``opset``; ``docs/export.md``) in memory, with
constant folding, tracing on one thread. Table entries keep the names the timing agent has always
bound (``x`` -> ``y``); an exported subnet names them :data:`INPUT_NAME` -> :data:`OUTPUT_NAME`.
"""

from __future__ import annotations

import contextlib
import io
import warnings

INPUT_NAME, OUTPUT_NAME = "input", "logits"  # an exported subnet's graph input and output
TABLE_NAMES = ("x", "y")  # a timed table entry's (and a measured subnet's) input and output
DYNAMIC_BATCH_CHECK = 8  # the second batch size a dynamic-batch export is checked (and built) for


@contextlib.contextmanager
def torch_threads(n: int = 1):
    """Run torch with ``n`` intra-op threads inside the block.

    Tracing for export runs one forward pass; on a busy 2-core machine a thread pool makes it ~6x
    slower (measured: 7.3 s vs 1.2 s, docs/export.md).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def onnx_bytes(
    module, input_shape, opset: int = 17, *, dynamic_batch: bool = False, names=TABLE_NAMES
) -> bytes:
    """The serialised ONNX model of an eval-mode ``module`` for an NCHW ``input_shape``.

    ``names``: (input, output) graph names; ``dynamic_batch``: axis 0 of both is ``batch``.
    """
    import torch

    x = torch.zeros(*input_shape)
    axes = {names[0]: {0: "batch"}, names[1]: {0: "batch"}} if dynamic_batch else None
    buf = io.BytesIO()
    with torch_threads(1), torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter (chosen on purpose) announces its deprecation on every call
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (x,),
            buf,
            dynamo=False,
            opset_version=opset,
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_axes=axes,
            do_constant_folding=True,
        )
    return buf.getvalue()
