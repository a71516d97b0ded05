"""The `backend` and `quantize` options of sentence-transformers components, checked and described
without importing torch (registration and planning stay cheap); retrievers/backends.py runs them."""

from __future__ import annotations

from importlib import metadata

from bright_eval.errors import BrightEvalError

OPSET = 18
# ORT's dynamic int8 settings; part of the quantised system's identity (spec) because they set its numbers.
INT8 = {"scheme": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8", "per_channel": True, "reduce_range": False}


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check(backend: str, quantize: str, device: str | None, where: str) -> None:
    """Refuse combinations that would run something other than what the name says, before any work."""
    if quantize != "none" and backend != "onnx":
        raise BrightEvalError(f"{where}: quantize={quantize} runs on ONNX Runtime only; add backend=onnx "
                              f"(backend={backend} would give other numbers under the same name)")
    if backend != "torch" and device and not device.startswith("cpu"):
        raise BrightEvalError(f"{where}: backend={backend} runs on the CPU; on device={device} use backend=torch")


def quantize_spec(quantize: str) -> dict | None:
    """What a quantised system's numbers depend on, for spec(); None for fp32 (the torch system's numbers)."""
    if quantize == "none":
        return None
    return {**INT8, "onnxruntime": version("onnxruntime"), "torch": version("torch"), "opset": OPSET}
