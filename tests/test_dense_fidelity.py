"""Our dense encoders against the rules BRIGHT's retrievers.py follows (xlang-ai/BRIGHT d99e839), on tiny
random-weight models built offline (tests/tiny_models.py). benchmarks/dense_fidelity.py runs BRIGHT's
own functions against ours on the same kind of models; this is the part CI can run without BRIGHT."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import Corpus
from bright_eval.retrievers.dense import DenseRetriever
from bright_eval.retrievers.dense_models import BY_NAME

sys.path.insert(0, str(Path(__file__).parent))
import tiny_models  # noqa: E402

QUERIES = ["why do leaves change colour in autumn", "how do bees find flowers far away"]
DOCS = ["chlorophyll breaks down in autumn and other pigments show", "bees dance to tell the hive where flowers are",
        "the moon has no atmosphere", "leaves", "pigments in leaves absorb light and flowers attract bees by colour"]


@pytest.fixture(autouse=True)
def _cpu(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("BRIGHT_EVAL_DEVICE", "cpu")


def test_qwen3_query_format_follows_its_model_card():
    # Qwen3-Embedding's card: f'Instruct: {task_description}\nQuery:{query}' -- no space after "Query:".
    q, d = BY_NAME["qwen3-embedding-8b"].instructions("biology")
    assert q == "Instruct: Given a biology post, retrieve relevant passages that help answer the post\nQuery:" and d == ""
    # BRIGHT's own e5/SFR/gte-Qwen configs keep the space (configs/e5/biology.json).
    assert BY_NAME["gte-qwen2-7b-instruct"].instructions("biology")[0].endswith("\nQuery: ")


def _bright_last_token(folder: str, texts: list[str], max_length: int) -> np.ndarray:
    """retrieval_sf_qwen_e5 (L161-190): one text a batch (encode_batch_size is never passed, L152), the
    instruction concatenated in front (L151), the tokenizer's own special tokens, truncation at
    max_length, the hidden state of the last token (last_token_pool, L102-109), L2-normalised."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for t in texts:
            b = tok([t], max_length=max_length, padding=True, truncation=True, return_tensors="pt")
            out.append(model(**b).last_hidden_state[0, -1])
    return torch.nn.functional.normalize(torch.stack(out), dim=-1).numpy()


@pytest.mark.parametrize("arch,side,name", [("mistral", "left", "e5-mistral-7b-instruct"),
                                            ("mistral", "right", "sfr-embedding-mistral"),
                                            ("qwen2", "right", "gte-qwen2-7b-instruct")])
def test_last_token_models_match_brights_encoding(arch, side, name, tmp_path):
    model = BY_NAME[name]
    ins = model.instructions("biology")[0]
    folder = tiny_models.build(tmp_path / arch, arch, "lasttoken", QUERIES + DOCS + [ins], padding_side=side)
    ours = DenseRetriever(dataclasses.replace(model, model_id=str(folder)), cache=ArtifactCache(tmp_path / "c"),
                          batch_size=3).for_task("biology")  # batches of 3: padding must not matter
    ours.index(Corpus([f"d{i}" for i in range(len(DOCS))], DOCS))
    want_d = _bright_last_token(str(folder), DOCS, model.doc_max_length)
    want_q = _bright_last_token(str(folder), [ins + q for q in QUERIES], model.query_max_length)
    np.testing.assert_allclose(np.asarray(ours._doc_emb), want_d, atol=1e-5)
    np.testing.assert_allclose(ours.encode_queries(QUERIES), want_q, atol=1e-5)
    run = ours.search(dict(zip("ab", QUERIES)), k=len(DOCS))
    want = want_q @ want_d.T
    for row, qid in enumerate("ab"):
        assert list(run[qid]) == [f"d{i}" for i in np.argsort(-want[row], kind="stable")]


def test_grit_pools_bidirectionally_without_the_instruction(tmp_path):
    """gritlm's encode (what retrieval_grit L287-306 calls): instruction + text, right padding, the
    instruction's tokens (with BOS) masked out of a mean pooling, attention not causal."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    from bright_eval.retrievers.grit import GritRetriever

    model = BY_NAME["gritlm-7b"]
    q_ins, d_ins = model.instructions("biology")
    folder = tiny_models.build(tmp_path / "grit", "mistral", "mean_tokens", QUERIES + DOCS + [q_ins])
    r = GritRetriever(dataclasses.replace(model, model_id=str(folder)), cache=ArtifactCache(tmp_path / "c"),
                      batch_size=2).for_task("biology")
    emb = r.encode_queries(QUERIES)
    tok, m = AutoTokenizer.from_pretrained(str(folder)), AutoModel.from_pretrained(str(folder)).eval()
    n_ins = len(tok(q_ins)["input_ids"])
    for i, q in enumerate(QUERIES):
        ids = tok([q_ins + q], return_tensors="pt")["input_ids"]
        with torch.no_grad():  # an all-zero additive 4D mask: every token sees every token
            h = m(input_ids=ids, attention_mask=torch.zeros(1, 1, ids.shape[1], ids.shape[1])).last_hidden_state[0]
            causal = m(input_ids=ids).last_hidden_state[0]
        want = torch.nn.functional.normalize(h[n_ins:].mean(0), dim=-1).numpy()
        np.testing.assert_allclose(emb[i], want, atol=1e-5)
        not_bidirectional = torch.nn.functional.normalize(causal[n_ins:].mean(0), dim=-1).numpy()
        assert np.abs(emb[i] - not_bidirectional).max() > 1e-3  # causal attention would give another vector
    assert r.spec()["query_max_length"] == 256 and r.spec()["doc_max_length"] == 2048 and d_ins == "<|embed|>\n"
