"""The `backend` and `quantize` options: combinations that would run something other than what the
system's name says are one error line before any work. Through the real CLI, on tiny_bright."""

from __future__ import annotations

import pytest
from cli_invoke import assert_one_error  # noqa: E402

RUN = ["run", "--tasks", "biology", "--results-dir", "r"]

# (id, extra CLI args, every fragment the one error line must hold)
BAD = [
    ("backend-unknown", ["--retriever", "all-minilm-l6-v2(backend=tensorrt)"],
     ["retriever 'all-minilm-l6-v2'", "backend='tensorrt'", "one of: torch, onnx, openvino"]),
    ("quantize-unknown", ["--retriever", "all-minilm-l6-v2(backend=openvino,quantize=int4)"], ["quantize='int4'", "one of: none, bf16, int8"]),
    ("int8-on-torch", ["--retriever", "all-minilm-l6-v2(quantize=int8)"],
     ["dense retriever 'all-minilm-l6-v2'", "quantize=int8 runs on OpenVINO only; add backend=openvino"]),
    ("int8-on-onnx", ["--retriever", "all-minilm-l6-v2(backend=onnx,quantize=int8)"], ["add backend=openvino", "backend=onnx would give"]),
    ("bf16-on-torch", ["--retriever", "all-minilm-l6-v2(quantize=bf16)"], ["quantize=bf16 runs on OpenVINO only"]),
    ("onnx-on-gpu", ["--retriever", "all-minilm-l6-v2(backend=onnx,device=cuda)"], ["backend=onnx runs on the CPU", "device=cuda"]),
    ("grit-onnx", ["--retriever", "gritlm-7b(backend=onnx)"], ["dense retriever 'gritlm-7b'", "GRIT-style models run on torch only"]),
    ("embed-int8-on-torch", ["--reranker", "embed:all-minilm-l6-v2(quantize=int8)"], ["quantize=int8 runs on OpenVINO only"]),
    ("ce-int8-on-torch", ["--reranker", "ms-marco-minilm-l6(quantize=int8)"],
     ["cross-encoder 'cross-encoder/ms-marco-MiniLM-L-6-v2'", "quantize=int8 runs on OpenVINO only"]),
    ("ce-openvino-gpu", ["--reranker", "ms-marco-minilm-l6(backend=openvino,device=cuda:0)"], ["backend=openvino runs on the CPU"]),
]


@pytest.mark.parametrize("extra,fragments", [pytest.param(a, f, id=i) for i, a, f in BAD])
def test_bad_backend_option_is_one_line_before_any_work(cli_env, tmp_path, extra, fragments):
    data, run = cli_env
    code, out, err = run(*RUN, "--data-dir", data, *extra)
    assert_one_error(code, out, err, fragments)
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.json")), "work was done before the error"
