"""vLLM's offline engine for local models on GPUs (batched, tensor-parallel), imported only when used.

Every decoding parameter is given to `SamplingParams` explicitly; a seed per request makes sampled
output independent of how vLLM batches. TongSearch-QR's released engine settings (dtype bfloat16,
max_model_len 16000: scripts/evaluation/vllm_model.py:27-36) are passed by the `tsqr-*` entries.
"""

from __future__ import annotations

from bright_eval.errors import BrightEvalError

from .llm import Generation

# vLLM names for our sampling keys; None values are left out (vLLM's "disabled").
_PARAMS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_tokens", "seed", "stop_token_ids",
           "presence_penalty", "frequency_penalty")


def vllm_available() -> bool:
    try:
        import torch
        import vllm  # noqa: F401
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


class VLLMBackend:
    def __init__(self, model: str, revision: str | None = None, tensor_parallel_size: int = 1,
                 gpu_memory_utilization: float = 0.9, max_model_len: int | None = None, dtype: str = "auto"):
        self.model, self.revision = model, revision
        self.dtype, self.max_model_len = dtype, max_model_len
        self.engine_args = {"tensor_parallel_size": tensor_parallel_size, "gpu_memory_utilization": gpu_memory_utilization,
                            "max_model_len": max_model_len, "dtype": dtype}
        self._llm = None

    def describe(self) -> dict:
        from .hf_backend import local_model_fingerprint

        out = {"backend": "vllm", "model": self.model, "revision": self.revision, "dtype": self.dtype,
               "max_model_len": self.max_model_len}
        files = local_model_fingerprint(self.model)
        if files:
            out["files"] = files
        return out

    def wire(self, sampling: dict) -> dict:
        """The keyword arguments of `vllm.SamplingParams`."""
        out = {k: sampling[k] for k in _PARAMS if sampling.get(k) is not None}
        if "stop_token_ids" in out:
            out["stop_token_ids"] = list(out["stop_token_ids"])
        return out

    def _load(self):
        if self._llm is not None:
            return self._llm
        try:
            import vllm
        except ImportError:
            raise BrightEvalError("the vLLM backend needs vllm: pip install 'bright-eval[vllm]' on a machine with a CUDA GPU "
                                  "(or use --backend transformers)") from None
        import torch

        if not torch.cuda.is_available():
            raise BrightEvalError("the vLLM backend needs a CUDA GPU and none is visible; use --backend transformers")
        args = {k: v for k, v in self.engine_args.items() if v is not None}
        self._llm = vllm.LLM(model=self.model, revision=self.revision, **args)
        return self._llm

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list[Generation | Exception]:
        llm = self._load()
        from vllm import SamplingParams

        params = SamplingParams(**self.wire(sampling))
        outs = llm.chat(conversations, params, use_tqdm=True)
        return [Generation(o.outputs[0].text, len(o.prompt_token_ids or []), len(o.outputs[0].token_ids)) for o in outs]
