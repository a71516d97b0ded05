"""GritLM-7B as BRIGHT runs it: the `gritlm` package's `GritLM(..., mode="embedding").encode`
(xlang-ai/BRIGHT retrievers.py L280-311), reproduced on plain transformers so no extra package is needed.

What `gritlm` 1.0.2 does in embedding mode, and so what this encoder does:
* bidirectional attention (attn='bbcc': the model is called with is_causal=False) -- here a 4D mask
  that lets every token see every non-padding token, which a stock Mistral model takes as it is;
* the tokenizer pads on the right (pad = eos when the tokenizer has none) and adds its special tokens;
* the instruction is prepended to the text, then its tokens (tokenised alone, special tokens included,
  so BOS too) are masked out of a mean pooling over the remaining non-padding tokens; L2-normalised.
BRIGHT passes query_max_length 256 and doc_max_length 2048 (L290-291), the GRIT prompts of
configs/grit (query: '<|user|>\\n{instruction}\\n<|embed|>\\n', document: '<|embed|>\\n'), batch size 1
(L302-306) and scores by cosine (L307). Batch size changes nothing here: padding is masked everywhere.
"""

from __future__ import annotations

import numpy as np

from bright_eval.errors import BrightEvalError

from .dense import DenseRetriever


class GritEncoder:
    """The slice of SentenceTransformer's interface that DenseRetriever uses."""

    def __init__(self, location: str, device: str = "cpu", half: bool = False, revision: str | None = None):
        from transformers import AutoModel, AutoTokenizer

        kw = {"revision": revision} if revision and revision != "main" else {}
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(location, padding_side="right", **kw)
            self.model = AutoModel.from_pretrained(location, dtype="auto" if half else None, **kw).to(device).eval()
        except Exception as exc:  # network, missing files: the same hint as the sentence-transformers path
            raise BrightEvalError(f"could not load GritLM model from {location} ({type(exc).__name__}: {str(exc)[:200]}); "
                                  f"offline? download it elsewhere and pass its folder") from None
        if self.tokenizer.pad_token is None and self.tokenizer.eos_token:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.device = device
        self.max_seq_length = 512  # gritlm's encode default; DenseRetriever sets BRIGHT's lengths

    def set_pooling_include_prompt(self, include: bool) -> None:
        if include:
            raise BrightEvalError("GritLM pools without its instruction (gritlm's embed_instruction=False)")

    def encode(self, texts: list[str], prompt: str = "", batch_size: int = 32, normalize_embeddings: bool = True,
               **_ignored) -> np.ndarray:
        import torch

        n_prompt = len(self.tokenizer(prompt, truncation=True, max_length=self.max_seq_length)["input_ids"]) if prompt else 0
        out = []
        with torch.no_grad():
            for s in range(0, len(texts), batch_size):
                batch = self.tokenizer([prompt + t for t in texts[s:s + batch_size]], padding=True, truncation=True,
                                       max_length=self.max_seq_length, return_tensors="pt").to(self.device)
                keys = batch["attention_mask"].bool()
                # (b, 1, q, k): every query position may attend to every real (non-padding) key
                allowed = keys[:, None, None, :].expand(-1, 1, keys.shape[1], -1)
                dtype = self.model.dtype
                mask = torch.zeros(allowed.shape, dtype=dtype, device=self.device).masked_fill(~allowed, torch.finfo(dtype).min)
                hidden = self.model(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
                pool = batch["attention_mask"].clone()
                pool[:, :n_prompt] = 0
                emb = (hidden * pool[..., None]).sum(1) / pool.sum(1, keepdim=True).clamp(min=1)
                if normalize_embeddings:
                    emb = torch.nn.functional.normalize(emb.float(), dim=-1)
                out.append(emb.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), np.float32)


class GritRetriever(DenseRetriever):
    def __init__(self, model, *args, backend: str = "torch", quantize: str = "none", **kwargs):
        if backend != "torch" or quantize != "none":  # its encoder is its own code, not a sentence-transformers module to swap
            raise BrightEvalError(f"dense retriever '{model.name}': backend={backend}, quantize={quantize}: GRIT-style models run "
                                  f"on torch only; leave both options out")
        super().__init__(model, *args, **kwargs)

    @property
    def model(self):
        if "model" not in self._loaded:
            src = self.source
            enc = GritEncoder(src["location"], self.device, self.dtype == "bfloat16", src.get("revision"))
            self._loaded["default_max"] = enc.max_seq_length
            self._loaded["model"] = enc
        return self._loaded["model"]

    def _gpu_pool(self):
        return None  # one device; the multi-process pool is sentence-transformers'
