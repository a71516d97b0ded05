"""vLLM's offline engine for local models on GPUs (batched, tensor-parallel), imported only when used."""

from __future__ import annotations

from bright_eval.errors import BrightEvalError

from .llm import Decoding, Generation


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
        self.engine_args = {"tensor_parallel_size": tensor_parallel_size, "gpu_memory_utilization": gpu_memory_utilization,
                            "max_model_len": max_model_len, "dtype": dtype}
        self._llm = None

    def describe(self) -> dict:
        return {"backend": "vllm", "model": self.model, "revision": self.revision}

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

    def generate(self, conversations: list[list[dict]], decoding: Decoding, on_result=None) -> list[Generation | Exception]:
        from vllm import SamplingParams

        llm = self._load()
        params = SamplingParams(temperature=decoding.temperature, top_p=decoding.top_p, max_tokens=decoding.max_new_tokens)
        outs = llm.chat(conversations, params, use_tqdm=True)
        return [Generation(o.outputs[0].text, len(o.prompt_token_ids or []), len(o.outputs[0].token_ids)) for o in outs]
