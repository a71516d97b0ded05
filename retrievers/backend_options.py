"""The `backend` and `quantize` options of sentence-transformers components, checked and described
without importing torch (registration and planning stay cheap); retrievers/backends.py runs them."""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata, resources

from bright_eval.errors import BrightEvalError

OPSET = 18


@functools.cache
def calibration_texts() -> tuple[str, ...]:
    """The fixed texts int8's activation ranges are calibrated on (bright_eval/reference/calibration.txt)."""
    text = resources.files("bright_eval").joinpath("reference/calibration.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line.strip() and not line.startswith("#"))


@functools.cache
def _calibration_sha256() -> str:
    return hashlib.sha256("\n".join(calibration_texts()).encode()).hexdigest()


# What a reduced-precision system's numbers depend on: part of its identity (spec, cache keys).
RECIPES = {
    # OpenVINO computes in bfloat16 where the CPU has bf16 units; weights stay fp32 in the file.
    "bf16": {"scheme": "openvino", "inference_precision": "bf16"},
    # NNCF's post-training static quantisation: int8 weights and activations, activation ranges from
    # fixed calibration texts; the ops it leaves in float run in fp32.
    "int8": {"scheme": "nncf.quantize", "model_type": "transformer", "preset": "mixed", "inference_precision": "f32",
             "calibration": {"texts": "bright_eval/reference/calibration.txt", "count": 128, "batch": 8}},
}


def version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def cpu_has_bf16() -> bool | None:
    """Whether OpenVINO computes in bf16 on this CPU; None when OpenVINO is not installed (its own error comes later)."""
    try:
        import openvino
    except ImportError:
        return None
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def check(backend: str, quantize: str, device: str | None, where: str) -> None:
    """Refuse combinations that would run something other than what the name says, before any work."""
    if quantize != "none" and backend != "openvino":
        raise BrightEvalError(f"{where}: quantize={quantize} runs on OpenVINO only; add backend=openvino "
                              f"(backend={backend} would give other numbers under the same name)")
    if quantize == "bf16" and cpu_has_bf16() is False:
        raise BrightEvalError(f"{where}: quantize=bf16: this CPU has no bfloat16 units (OpenVINO would compute in fp32 "
                              "under the bf16 name); use quantize=none or quantize=int8")
    if backend != "torch" and device and not device.startswith("cpu"):
        raise BrightEvalError(f"{where}: backend={backend} runs on the CPU; on device={device} use backend=torch")


def quantize_spec(quantize: str) -> dict | None:
    """What a quantised system's numbers depend on, for spec(); None for fp32 (the torch system's numbers)."""
    if quantize == "none":
        return None
    recipe = {**RECIPES[quantize], "openvino": version("openvino"), "torch": version("torch")}
    if quantize == "int8":
        recipe["calibration"] = {**recipe["calibration"], "sha256": _calibration_sha256()}
        recipe["nncf"] = version("nncf")
    return recipe
