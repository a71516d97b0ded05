"""Pointwise relevance from a causal LM's next-token logits: score = log P("yes") renormalised over
{"yes", "no"} at the start of the answer, i.e. log softmax([logit_no, logit_yes])[yes].

The prompt is Qwen3-Reranker's (its model card: system "Judge whether the Document meets the
requirements ...", user "<Instruct>: ...\\n<Query>: ...\\n<Document>: ...", relevance = P(yes)
against P(no)), rendered through each model's own chat template so any chat model can be used;
Qwen3-Reranker itself adds the empty think block after the assistant header (`answer_prefix`).
Scores are cached per (model, prompt, query, document): the same pair is never scored twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bright_eval.cache import ArtifactCache
from bright_eval.components import RewriteStats
from bright_eval.errors import BrightEvalError, require
from bright_eval.io import fingerprint_of
from bright_eval.progress import progress

from .base import DocTexts, heads, order_by_scores, write_back
from .cache import Cached, RerankCache
from .llm import local_model

if TYPE_CHECKING:
    from bright_eval.data import Corpus
    from bright_eval.trec import Run

SYSTEM = ('Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
          'Note that the answer can only be "yes" or "no".')
USER = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {doc}"
INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


class YesNoReranker:
    def __init__(self, model: str, cache: ArtifactCache | None = None, instruction: str = INSTRUCTION, answer_prefix: str = "",
                 doc_max_tokens: int = 512, revision: str | None = None, batch_size: int = 8, device: str | None = None):
        from bright_eval.rewriters.hf_backend import split_model_ref

        self.model_ref, self.gguf_file = split_model_ref(local_model(model))
        self.instruction, self.answer_prefix, self.doc_max_tokens = instruction, answer_prefix, doc_max_tokens
        self.revision, self.batch_size, self.device = revision, batch_size, device
        self.name = f"yesno:{model}"
        self.db = RerankCache((cache or ArtifactCache()).root / "rerank" / "llm.sqlite")
        self.stats = RewriteStats()
        self._model = None

    def _identity(self) -> dict:
        return {"model": self.model_ref + (f"/{self.gguf_file}" if self.gguf_file else ""), "revision": self.revision,
                "system": SYSTEM, "user": USER, "instruction": self.instruction, "answer_prefix": self.answer_prefix,
                "doc_max_tokens": self.doc_max_tokens, "score": "log P(yes) over {yes, no}"}

    def spec(self) -> dict:
        return {"name": self.name, "kind": "pointwise-yes-logprob", **self._identity()}

    def _load(self):
        if self._model is not None:
            return
        torch = require("torch", "models", "the yes/no reranker")
        transformers = require("transformers", "models", "the yes/no reranker")
        kw = {"revision": self.revision, **({"gguf_file": self.gguf_file} if self.gguf_file else {})}
        try:
            tok = transformers.AutoTokenizer.from_pretrained(self.model_ref, **kw)
            # float32: half precision is emulated on CPUs and GGUF de-quantises to it; logits are compared across batches.
            model = transformers.AutoModelForCausalLM.from_pretrained(self.model_ref, dtype=torch.float32, **kw)
        except OSError as exc:
            raise BrightEvalError(f"could not load model '{self.model_ref}' ({str(exc).splitlines()[0][:200]})") from None
        if tok.chat_template is None:
            raise BrightEvalError(f"model '{self.model_ref}' has no chat template; the yes/no prompt is a chat turn")
        tok.padding_side = "left"  # the answer position is the last one of every row
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self.yes, self.no = self._token(tok, "yes"), self._token(tok, "no")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model, self._tok, self._torch = model.to(device).eval(), tok, torch

    def _token(self, tok, word: str) -> int:
        tid = tok.convert_tokens_to_ids(word)
        if tid is None or tid == tok.unk_token_id:
            ids = tok.encode(word, add_special_tokens=False)
            if len(ids) != 1:
                raise BrightEvalError(f"model '{self.model_ref}': '{word}' is not a single token of its tokenizer; the yes/no score needs one")
            tid = ids[0]
        return int(tid)

    def _prompt(self, query: str, doc: str) -> str:
        ids = self._tok.encode(doc, add_special_tokens=False)[: self.doc_max_tokens]
        user = USER.format(instruction=self.instruction, query=query, doc=self._tok.decode(ids))
        msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
        return self._tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True) + self.answer_prefix

    def score(self, pairs: list[tuple[str, str]]) -> list[float]:
        """log P(yes | yes or no) per (query, document), uncached."""
        self._load()
        tok, model, torch = self._tok, self._model, self._torch
        prompts = [self._prompt(q, d) for q, d in pairs]
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths share a batch: less padding
        out = [0.0] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = tok([prompts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
            # Positions count real tokens only, so a left-padded row scores as it would alone.
            pos = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
            self.stats.prompt_tokens += int(enc["attention_mask"].sum())
            with torch.inference_mode():
                last = model(**enc, position_ids=pos).logits[:, -1, :].float()
            lp = torch.log_softmax(torch.stack([last[:, self.no], last[:, self.yes]], dim=-1), dim=-1)[:, 1]
            for i, v in zip(idx, lp.tolist()):
                out[i] = v
        return out

    def rerank(self, queries: dict[str, str], run: Run, corpus: Corpus, depth: int) -> Run:
        text = DocTexts(corpus)
        parts = heads(queries, run, depth)
        ident = self._identity()
        keys = {(qid, d): fingerprint_of({**ident, "query": queries[qid], "doc": text(d)}) for qid, (head, _) in parts.items() for d in head}
        found = {k: c.score for k, c in self.db.get_many(list(set(keys.values()))).items()}
        self.stats.from_cache += sum(1 for k in keys.values() if k in found)
        todo = list(dict.fromkeys(k for k in keys.values() if k not in found))
        pair_of = {k: (queries[qid], text(d)) for (qid, d), k in keys.items()}
        chunk = max(64, self.batch_size)  # committed chunk by chunk: an interrupted run keeps what it scored
        for start in progress(range(0, len(todo), chunk), total=-(-len(todo) // chunk), description=f"{self.name}: scoring {len(todo)} pairs"):
            ks = todo[start:start + chunk]
            scores = self.score([pair_of[k] for k in ks])
            self.db.put_many([(k, ident["model"], Cached(None, s)) for k, s in zip(ks, scores)])
            found.update(zip(ks, scores))
            self.stats.generated += len(ks)
        return {qid: write_back(order_by_scores(head, [found[keys[(qid, d)]] for d in head]), tail) for qid, (head, tail) in parts.items()}
