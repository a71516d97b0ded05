"""Cross-encoders through sentence-transformers' `CrossEncoder`, as BRIGHT's rerank.py runs them
(`STReranker`, rerank.py:186-197): `CrossEncoder(model_name)` with the model's own maximum length,
`predict` on (query, full document text) pairs with batch size 8, documents sorted by score.

One deliberate difference: we score with the raw logit (identity activation), not the sigmoid
sentence-transformers applies by default to one-label models. The order is the same (the sigmoid
is monotone) except that float32 sigmoids saturate at 1.0 for confident pairs, which BRIGHT then
ranks as ties; logits keep them apart.

`backend="onnx"|"openvino"` scores through an exported graph on the CPU (retrievers/backends.py): the
same logits as torch to float32 rounding, so the same system; `quantize="int8"` is another system.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError, require
from bright_eval.progress import progress

from .base import DocTexts, heads, order_by_scores, write_back

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.trec import Run


class CrossEncoderReranker:
    def __init__(self, model: str, max_length: int | None = None, revision: str | None = None, batch_size: int = 8,
                 device: str | None = None, backend: str = "torch", quantize: str = "none", cache: ArtifactCache | None = None):
        from bright_eval.retrievers.backend_options import check

        check(backend, quantize, device, f"cross-encoder '{model}'")
        self.backend, self.quantize = backend, quantize
        self.cache = cache if cache is not None else ArtifactCache()
        self.runtime: dict | None = None  # what ran the model, once loaded (provenance)
        self.model_id = model
        self.max_length = max_length
        self.revision = revision
        self.batch_size = batch_size
        self.device = "cpu" if backend != "torch" and not device else device
        self.name = f"ce:{model}"
        self._model = None

    def spec(self) -> dict:
        return {"name": self.name, "kind": "cross-encoder", "model": self.model_id, "revision": self.revision,
                "max_length": self.max_length, "activation": "identity", "input": "(query, document text)", **self._quantized()}

    def _quantized(self) -> dict:
        if self.quantize == "none":
            return {}  # fp32 backends score as torch does: same spec, same results
        from bright_eval.retrievers.backend_options import quantize_spec

        return {"quantize": quantize_spec(self.quantize)}

    def _load(self):
        if self._model is None:
            require("torch", "models", "cross-encoder rerankers")
            st = require("sentence_transformers", "models", "cross-encoder rerankers")
            import torch

            try:
                self._model = st.CrossEncoder(self.model_id, max_length=self.max_length, revision=self.revision, device=self.device,
                                              activation_fn=torch.nn.Identity())
            except (OSError, ValueError) as exc:
                raise BrightEvalError(f"could not load cross-encoder '{self.model_id}' ({str(exc).splitlines()[0][:200]})") from None
            if self._model.num_labels != 1:
                raise BrightEvalError(f"cross-encoder '{self.model_id}' has {self._model.num_labels} labels; a reranker needs one score per pair")
            from bright_eval.retrievers.backends import use_backend

            self.runtime = use_backend(self._model, self.backend, self.quantize, self.cache)
        return self._model

    def ran_with(self) -> dict:
        """Provenance for results: the engine that scored (torch, or a backend's runtime and export hash)."""
        return {"pairs": self.runtime}

    def score(self, pairs: list[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        out = self._load().predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        return [float(x) for x in out.reshape(-1)]

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run:
        text = DocTexts(corpus)
        parts = heads(queries, run, depth)
        result: Run = {}
        for qid, (head, tail) in progress(parts.items(), total=len(parts), description=f"{self.name}: reranking"):
            scores = self.score([(queries[qid], text(d)) for d in head])
            result[qid] = write_back(order_by_scores(head, scores), tail)
        return result
