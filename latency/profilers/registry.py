"""The table of profiler backends: name -> lazily imported :class:`~.base.Profiler` subclass.

Light on purpose (imports only :mod:`hwnas.registry`): ``hwnas profile --help`` and the device.yaml
checks read the names without importing torch, onnxruntime or TensorRT. Adding a backend is one new
module (a Profiler subclass) plus one line here.
"""

from __future__ import annotations

from hwnas.registry import Registry

BACKENDS = Registry(
    "backend",
    [
        (
            "ort",
            "latency.profilers.ort:OrtProfiler",
            "ONNX Runtime on the ONNX export (CPU, CUDA or TensorRT execution provider)",
        ),
        (
            "tensorrt",
            "latency.profilers.tensorrt:TensorRTProfiler",
            "NVIDIA TensorRT engines from the ONNX export (needs tensorrt and a GPU)",
        ),
        ("torch", "latency.profilers.torch_eager:TorchProfiler", "PyTorch eager mode, CPU or CUDA"),
        ("torchscript", "latency.profilers.torchscript:TorchScriptProfiler", "frozen TorchScript"),
    ],
)

# how a profiler reaches a machine other than this one (``--target ssh://...``)
TARGETS = Registry(
    "target",
    [
        (
            "ssh",
            "latency.remote:RemoteOrtProfiler",
            "time on another machine over SSH through hwnas' agent (backend ort)",
        ),
    ],
)
