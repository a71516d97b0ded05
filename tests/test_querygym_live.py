"""`qg:<method>` runs QueryGym's own method code against a chat-completions server on 127.0.0.1; a
method that reads retrieved documents (LameR) gets them from our BM25 over the task's corpus."""

import json
import shutil

import pytest

pytest.importorskip("openai")
pytest.importorskip("querygym")
pytest.importorskip("pandas")

from stub_openai import ChatStub, completion, failure  # noqa: E402

from bright_eval.cache import ArtifactCache  # noqa: E402
from bright_eval.data import LocalSource  # noqa: E402
from bright_eval.execute import execute  # noqa: E402
from bright_eval.plan import ComponentRef, Request, make_plan  # noqa: E402
from bright_eval.retrievers import RETRIEVERS  # noqa: E402
from bright_eval.rewriters import REWRITERS, Query  # noqa: E402
from bright_eval.rewriters.querygym_live import METHODS  # noqa: E402


class Stub(ChatStub):
    """Answers request n with 'passage n about synapses'; `refuse_after` turns every later request into a
    401 (not retried), as an interruption would stop a run."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.refuse_after: int | None = None
        super().__init__()

    def answer(self, body: dict) -> tuple[int, dict]:
        with self.lock:
            self.bodies.append(body)
            n = len(self.bodies)
        if self.refuse_after is not None and n > self.refuse_after:
            return failure(401, "bad key", "invalid_request_error")
        return completion(body["model"], f"passage {n} about synapses", 50, 5)


@pytest.fixture()
def stub():
    s = Stub()
    yield s
    s.close()


def test_every_method_querygym_registers_is_a_rewriter():
    from querygym.core.registry import METHODS as QG

    assert sorted(QG) == sorted(METHODS)
    assert all(f"qg:{m}" in REWRITERS.names() for m in METHODS)


def _run(tmp_path, data, stub, **opts):
    args = {"base_url": stub.url, "retrieval_k": 3, "concurrency": 1, "max_retries": 0, **opts}
    req = Request([ComponentRef("qg:lamer", args)], [ComponentRef("bm25")], ["biology"])
    return execute(make_plan(req, LocalSource(data), tmp_path / "runs", ArtifactCache(tmp_path / "cache")))


def test_lamer_end_to_end_with_our_bm25_as_its_first_stage(tiny_bright, stub, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    src = LocalSource(data)
    examples = src.examples("biology")
    # What our BM25 returns for each original query: LameR must see exactly these top 3, in order.
    bm25 = RETRIEVERS.create("bm25", {}, cache=ArtifactCache(tmp_path / "c2"))
    corpus = src.documents("biology")
    bm25.index(corpus)
    run = bm25.search({e.id: e.query for e in examples}, k=3, exclude={e.id: set(e.excluded_ids) for e in examples if e.excluded_ids})
    text_of = dict(zip(corpus.ids, corpus.texts))

    [cell] = _run(tmp_path, data, stub)
    assert cell.status == "done", cell.error
    assert len(stub.bodies) == 5 * len(examples)  # gen_passages = 5 (querygym/methods/lamer.py:26)
    for e in examples:
        prompts = [b["messages"][-1]["content"] for b in stub.bodies if f'"{e.query}"' in b["messages"][-1]["content"]]
        assert len(prompts) == 5
        top = sorted(run[e.id].items(), key=lambda h: (-h[1], h[0]))
        blob = "\n".join(f"{i + 1}. {text_of[d]}" for i, (d, _) in enumerate(top))
        assert blob in prompts[0]
    assert all(b["temperature"] == 1.0 and b["max_tokens"] == 128 for b in stub.bodies)  # LameR's defaults (lamer.py:27-28)
    record = json.loads(open(cell.path, encoding="utf-8").read())
    assert record["rewriter_stats"]["generated"] == len(examples)
    assert record["rewriter_stats"]["prompt_tokens"] == 50 * 5 * len(examples)
    ctx = record["identity"]["rewriter"]["context"]  # the first stage's own spec, in the cell identity
    assert ctx["k"] == 3 and ctx["retriever"] == bm25.spec()

    # Rerun: every reply comes from the cache, the cell is reused, nothing is sent.
    sent = len(stub.bodies)
    [again] = _run(tmp_path, data, stub)
    assert again.status == "reused" and len(stub.bodies) == sent


def test_an_interrupted_run_resumes_from_the_cached_replies(tiny_bright, stub, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    data = tmp_path / "data"
    shutil.copytree(tiny_bright, data)
    n = len(LocalSource(data).examples("biology"))
    stub.refuse_after = 7
    [cell] = _run(tmp_path, data, stub)
    assert cell.status == "failed" and "rerun to continue" in cell.error
    stub.refuse_after = None
    before = len(stub.bodies)
    [cell] = _run(tmp_path, data, stub)
    assert cell.status == "done", cell.error
    assert len(stub.bodies) - before == 5 * n - 7  # only the requests that had no reply


def test_the_first_stage_is_part_of_the_identity(stub):
    a = REWRITERS.create("qg:csqe", {"base_url": stub.url})
    b = REWRITERS.create("qg:csqe", {"base_url": stub.url, "first_stage": "bm25-lucene"})
    assert a.name == f"qg:csqe(base_url={stub.url})" and b.name == f"qg:csqe(base_url={stub.url},first_stage=bm25-lucene)"
    assert a.spec()["context"]["retriever"] != b.spec()["context"]["retriever"]


def test_a_context_free_method_rewrites_directly(stub, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    rw = REWRITERS.create("qg:query2doc", {"base_url": stub.url, "mode": "cot", "concurrency": 2}, cache=ArtifactCache(tmp_path))
    out = rw.rewrite([Query("biology", "1", "why do cells divide"), Query("biology", "2", "what is a synapse")])
    assert len(out) == 2 and all("passage" in t for t in out) and len(stub.bodies) == 2
    assert rw.stats.generated == 2 and rw.stats.completion_tokens == 10
