"""The types component options are declared with: a factory's parameters carry these annotations,
and the registry validates every user value against them before any work (bright_eval/registry.py).

The constraints are `annotated_types` markers, which pydantic enforces natively; importing this
module costs nothing, so registrations stay cheap and `--help` stays fast. Floats are always
finite: NaN or infinity in an option is refused for every component, not per option.
"""

from __future__ import annotations

from typing import Annotated, Literal

from annotated_types import Ge, Gt, Interval

Count = Annotated[int, Ge(1)]                 # sizes: batches, depths, lengths, workers
Retries = Annotated[int, Ge(0)]
Seed = Annotated[int, Ge(0)]
TopK = Annotated[int, Ge(-1)]                 # vLLM's "off" is -1; transformers' is 0
Positive = Annotated[float, Gt(0)]
NonNegative = Annotated[float, Ge(0)]
Fraction = Annotated[float, Interval(ge=0, le=1)]
OpenFraction = Annotated[float, Interval(gt=0, le=1)]  # top_p: 0 would keep no token
Penalty = Annotated[float, Interval(ge=-2, le=2)]      # OpenAI's presence/frequency range

Compose = Literal["replace", "original+rewrite"]
PromptName = Literal["tsqr", "bright"]
Decoding = Literal["released", "greedy"]
LocalBackend = Literal["auto", "vllm", "transformers"]
FusionNorm = Literal["min-max", "z-score", "none"]
Query2DocMode = Literal["zs", "cot", "fs"]  # QueryGym query2doc: zero-shot, chain-of-thought, few-shot
Query2DocLiveMode = Literal["zs", "cot"]    # live: few-shot needs QueryGym's training files (methods/query2doc.py:50-100)
Backend = Literal["torch", "onnx", "openvino"]  # sentence-transformers models; fp32 backends give torch's numbers
Quantize = Literal["none", "bf16", "int8"]

__all__ = ["Count", "Retries", "Seed", "TopK", "Positive", "NonNegative", "Fraction", "OpenFraction", "Penalty",
           "Compose", "PromptName", "Decoding", "LocalBackend", "FusionNorm",
           "Query2DocMode", "Query2DocLiveMode", "Backend", "Quantize"]
