"""The OpenAI-compatible backend against a real chat-completions server on 127.0.0.1 that injects
429s, 500s and a slow response."""

import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("openai")

from bright_eval.cache import ArtifactCache  # noqa: E402
from bright_eval.errors import BrightEvalError  # noqa: E402
from bright_eval.rewriters import REWRITERS, Query  # noqa: E402
from bright_eval.rewriters.llm import LLMRewriter  # noqa: E402
from bright_eval.rewriters.openai_backend import OpenAIBackend  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from stub_openai import Server  # noqa: E402


@pytest.fixture()
def server():
    s = Server()
    yield s
    s.httpd.shutdown()


def rewriter(server, tmp_path, concurrency=4, batch_size=16, **kw):
    be = OpenAIBackend("gpt-4o", base_url=server.url, api_key="test", concurrency=concurrency, timeout=0.5, backoff=0.01, **kw)
    return LLMRewriter("gpt-4o", be, cache=ArtifactCache(tmp_path), batch_size=batch_size, prices=(2.5, 10.0))


def test_retries_keep_order_and_tally(server, tmp_path):
    texts = ["plain one", "RATE limited", "FLAKY server", "SLOW answer", "plain two", "plain three"]
    rw = rewriter(server, tmp_path)
    out = rw.rewrite([Query("pony", str(i), t) for i, t in enumerate(texts)])
    assert out == [f"reasoned: {t}" for t in texts]
    assert server.attempts["RATE limited"] == 2 and server.attempts["FLAKY server"] == 3 and server.attempts["SLOW answer"] == 2
    assert (rw.stats.prompt_tokens, rw.stats.completion_tokens, rw.stats.generated) == (600, 42, 6)
    assert rw.stats.cost_usd == pytest.approx((600 * 2.5 + 42 * 10.0) / 1e6)


def test_hard_failure_names_the_query_and_a_rerun_resumes(server, tmp_path):
    qs = [Query("pony", "0", "plain a"), Query("pony", "1", "DEAD end"), Query("pony", "2", "plain b")]
    with pytest.raises(BrightEvalError, match=r"failed on query pony/1 \(InternalServerError after 3 tries"):
        rewriter(server, tmp_path, max_retries=2).rewrite(qs)
    assert server.attempts["DEAD end"] == 3
    # The server recovers; the rerun only asks for what is missing.
    server.attempts.clear()
    qs[1] = Query("pony", "1", "plain c")
    again = rewriter(server, tmp_path)
    assert again.rewrite(qs) == ["reasoned: plain a", "reasoned: plain c", "reasoned: plain b"]
    assert (again.stats.from_cache, again.stats.generated) == (2, 1)
    assert set(server.attempts) == {"plain c"}


def test_registry_entry_talks_to_a_compatible_server(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    rw = REWRITERS.create("openai:my-vllm-model", cache=ArtifactCache(tmp_path), base_url=server.url)
    assert rw.rewrite([Query("pony", "0", "plain x")]) == ["reasoned: plain x"]
    assert rw.spec()["model"]["base_url"] == server.url
    assert rw.stats.cost_usd == 0.0  # no price for a self-hosted model


def test_client_errors_are_not_retried(server, tmp_path):
    with pytest.raises(BrightEvalError, match=r"failed on query pony/0 \(AuthenticationError after 1 try"):
        rewriter(server, tmp_path).rewrite([Query("pony", "0", "AUTH please")])
    assert server.attempts["AUTH please"] == 1


def test_unreachable_server_is_reported_with_the_query(tmp_path):
    # Nothing listens on this port: connection errors are retried, then reported with the query.
    be = OpenAIBackend("gpt-4o", base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=1, backoff=0.01, timeout=0.5)
    with pytest.raises(BrightEvalError, match="failed on query pony/0 \\(APIConnectionError after 2 tries"):
        LLMRewriter("gpt-4o", be, cache=ArtifactCache(tmp_path)).rewrite([Query("pony", "0", "x")])


SENT_RELEASED = {"temperature": 0.7, "top_p": 0.8, "max_tokens": 500, "seed": 0, "top_k": 20, "repetition_penalty": 1.05,
                 "repeat_penalty": 1.05}


@pytest.mark.parametrize("args, system, sent", [
    ({}, "", SENT_RELEASED),
    ({"think": True}, "A conversation between User and Assistant.", SENT_RELEASED),
    ({"decoding": "greedy"}, "", {"temperature": 0.0, "top_p": 1.0, "max_tokens": 500, "seed": 0, "repetition_penalty": 1.0,
                                  "repeat_penalty": 1.0}),
    ({"decoding": "greedy", "think": True, "presence_penalty": 0.5}, "A conversation",
     {"temperature": 0.0, "top_p": 1.0, "max_tokens": 500, "seed": 0, "repetition_penalty": 1.0, "repeat_penalty": 1.0,
      "presence_penalty": 0.5}),
])
def test_every_decoding_parameter_reaches_a_compatible_server(server, tmp_path, args, system, sent):
    rw = REWRITERS.create("openai:TongSearch/TongSearch-QR-7B", {"base_url": server.url, **args}, cache=ArtifactCache(tmp_path))
    rw.rewrite([Query("pony", "0", "plain x")])
    (body,) = server.bodies
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == sent
    assert body["messages"][0]["role"] == "system" and body["messages"][0]["content"].startswith(system)
    assert body["messages"] == rw.requests([Query("pony", "0", "plain x")])[0]["messages"]
    recorded = rw.spec()["sent"]
    assert {**{k: v for k, v in recorded.items() if k != "extra_body"}, **recorded.get("extra_body", {})} == sent


def test_openai_itself_gets_only_what_it_accepts_and_the_rest_is_recorded(monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    rw = REWRITERS.create("gpt-4o")
    assert rw.spec()["sent"] == {"temperature": 0.7, "top_p": 0.8, "max_tokens": 500, "seed": 0,
                                 "omitted": ["repetition_penalty", "top_k"]}
    assert rw.spec()["model"]["base_url"] == "https://api.openai.com/v1"


def test_another_endpoint_is_not_served_the_first_ones_rewrites(tmp_path):
    a, b = Server(prefix="A "), Server(prefix="B ")
    try:
        qs = [Query("pony", "0", "plain x")]
        first = REWRITERS.create("openai:same-name", {"base_url": a.url}, cache=ArtifactCache(tmp_path))
        assert first.rewrite(qs) == ["A reasoned: plain x"]
        other = REWRITERS.create("openai:same-name", {"base_url": b.url}, cache=ArtifactCache(tmp_path))
        assert other.rewrite(qs) == ["B reasoned: plain x"] and other.stats.generated == 1
        assert other.name == f"openai:same-name(base_url={b.url})" != first.name
        again = REWRITERS.create("openai:same-name", {"base_url": a.url}, cache=ArtifactCache(tmp_path))
        assert again.rewrite(qs) == ["A reasoned: plain x"] and again.stats.from_cache == 1
    finally:
        a.httpd.shutdown()
        b.httpd.shutdown()


def test_ctrl_c_stops_sending_and_every_reply_that_arrives_is_cached(tmp_path):
    import signal

    main = threading.main_thread().ident

    def interrupt(n):
        if n == 8:  # Ctrl-C while the 8th request is being served
            signal.pthread_kill(main, signal.SIGINT)

    srv = Server(delay=0.05, on_request=interrupt)
    try:
        qs = [Query("pony", str(i), f"plain {i}") for i in range(40)]
        with pytest.raises(KeyboardInterrupt):
            rewriter(srv, tmp_path, concurrency=4, batch_size=40).rewrite(qs)
        deadline = time.time() + 5
        check = rewriter(srv, tmp_path)
        while time.time() < deadline and not (srv.replied == len(srv.bodies) and _cached(check, qs) == srv.replied):
            time.sleep(0.05)  # requests in flight at Ctrl-C finish and are cached as they arrive
        sent = len(srv.bodies)
        assert 8 <= sent <= 8 + 4, sent  # the old code sent all 40
        assert _cached(check, qs) == srv.replied == sent
    finally:
        srv.httpd.shutdown()


def _cached(rw, qs) -> int:
    return sum(rw.is_cached([q]) for q in qs)
