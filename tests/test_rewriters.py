"""Rewriters: precomputed sets (file:, bright:), composition, think mode, the registry and the cache."""

import json

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.rewriters import REWRITERS, Query
from bright_eval.rewriters.llm import Generation, LLMRewriter
from bright_eval.rewriters.sampling import Sampling
from bright_eval.tasks import TASKS


def all_queries(shared_bright):
    src = LocalSource(shared_bright)
    return [Query(t, e.id, e.query) for t in TASKS for e in src.examples(t)]


def published(shared_bright, name="TongSearch-QR-7B"):
    out = {}
    for t in TASKS:
        for line in (shared_bright / t / "reasoning" / f"{name}.jsonl").read_text().splitlines():
            rec = json.loads(line)
            out[(t, rec["id"])] = rec["query"]
    return out


def test_file_rewriter_returns_the_published_texts_for_all_1384_queries(shared_bright):
    qs = all_queries(shared_bright)
    assert len(qs) == 1384
    rw = REWRITERS.create(f"file:{shared_bright}/{{task}}/reasoning/TongSearch-QR-7B.jsonl")
    want = published(shared_bright)
    assert rw.rewrite(qs) == [want[(q.task, q.id)] for q in qs]


def test_tongsearch_json_twin_maps_by_query_text(shared_bright, tmp_path):
    qs = all_queries(shared_bright)
    want = published(shared_bright, "TongSearch-QR-1.5B")
    # TongSearch-QR's release format: {original query text: reasoned query}.
    mapping = {q.text: want[(q.task, q.id)] for q in qs}
    assert len(mapping) < len(qs)  # theoremqa_theorems reuses theoremqa_questions texts
    (tmp_path / "tsqr.json").write_text(json.dumps(mapping))
    rw = REWRITERS.create(f"file:{tmp_path}/tsqr.json")
    assert rw.rewrite(qs) == [want[(q.task, q.id)] for q in qs]


def test_bright_prefix_reads_the_sources_reasoning_sets(shared_bright):
    src = LocalSource(shared_bright)
    qs = [q for q in all_queries(shared_bright) if q.task == "pony"]
    rw = REWRITERS.create("bright:TongSearch-QR-7B", source=src)
    want = published(shared_bright)
    assert rw.rewrite(qs) == [want[("pony", q.id)] for q in qs]
    with pytest.raises(BrightEvalError, match="no reasoning file for 'gpt4'"):
        REWRITERS.create("bright:gpt4", source=src).rewrite(qs)


def test_missing_ids_name_the_file_and_the_ids(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"id": "0", "query": "a"}\n')
    with pytest.raises(BrightEvalError, match=r"r.jsonl: no rewrite for 1 of 2 queries \(ids 1\)"):
        REWRITERS.create(f"file:{f}").rewrite([Query("pony", "0", "x"), Query("pony", "1", "y")])


def test_task_less_file_cannot_serve_two_tasks(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"id": "0", "query": "a"}\n')
    rw = REWRITERS.create(f"file:{f}")
    assert rw.rewrite([Query("pony", "0", "x")]) == ["a"]
    with pytest.raises(BrightEvalError, match="rows have no 'task' field"):
        rw.rewrite([Query("aops", "0", "x")])


def test_malformed_rewrite_file(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"id": "0"}\n')
    with pytest.raises(BrightEvalError, match=r"r.jsonl:1: missing field 'query'"):
        REWRITERS.create(f"file:{f}").rewrite([Query("pony", "0", "x")])
    with pytest.raises(BrightEvalError, match="rewrite file not found"):
        REWRITERS.create(f"file:{tmp_path}/nope.jsonl").rewrite([Query("pony", "0", "x")])


def test_compose_original_plus_rewrite_and_its_name(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_text('{"task": "pony", "id": "0", "query": "reasoned"}\n')
    rw = REWRITERS.create(f"file:{f}", compose="original+rewrite")
    assert rw.rewrite([Query("pony", "0", "orig")]) == ["orig\n\nreasoned"]
    assert rw.name.endswith("(compose=original+rewrite)") and rw.spec()["compose"] == "original+rewrite"
    with pytest.raises(BrightEvalError, match="option compose=.* expected one of: replace, original\\+rewrite"):
        REWRITERS.create(f"file:{f}", compose="append")


class Scripted:
    """A backend that answers from a script: the rewriter's own logic is what is under test."""

    def __init__(self, answers):
        self.answers, self.calls = answers, 0

    def describe(self):
        return {"backend": "scripted", "model": "scripted", "revision": None}

    def wire(self, sampling):
        return dict(sampling)

    def generate(self, conversations, decoding, on_result=None):
        self.calls += len(conversations)
        return [Generation(self.answers[c[-1]["content"].split("Query: ")[1].strip()], 10, 5) for c in conversations]


def test_think_mode_follows_the_released_inference_contract(tmp_path):
    # vllm_model.py:81-85: the answer when <think>..</think> <answer>..</answer> is there, else the raw text.
    be = Scripted({"q1": "<think>why</think> <answer>good</answer>", "q2": "<answer>no think block</answer>", "q3": "   "})
    rw = LLMRewriter("scripted", be, think=True, cache=ArtifactCache(tmp_path))
    out = rw.rewrite([Query("pony", "1", "q1"), Query("pony", "2", "q2"), Query("pony", "3", "q3")])
    assert out == ["good", "<answer>no think block</answer>", "q3"]
    assert rw.stats.failed == {"pony/2": "no <think>..</think> <answer>..</answer>: raw completion used (as released)",
                               "pony/3": "empty completion: original query used"}
    assert rw.spec()["messages"][0]["content"].startswith("A conversation between User and Assistant")


def test_cache_is_keyed_by_query_text_and_decoding(tmp_path):
    cache = ArtifactCache(tmp_path)
    be = Scripted({"q1": "a", "q2": "b"})
    qs = [Query("pony", "1", "q1"), Query("pony", "2", "q2"), Query("aops", "7", "q1")]
    assert LLMRewriter("s", be, cache=cache).rewrite(qs) == ["a", "b", "a"]
    assert be.calls == 2  # the same text in two tasks is generated once
    again = LLMRewriter("s", be, cache=cache)
    again.rewrite(qs)
    assert (be.calls, again.stats.from_cache, again.stats.generated) == (2, 3, 0)
    LLMRewriter("s", be, Sampling(max_tokens=7), cache=cache).rewrite(qs)
    assert be.calls == 4
    LLMRewriter("s", be, Sampling(seed=1), cache=cache).rewrite(qs)  # another seed is another text
    assert be.calls == 6


def test_vllm_missing_is_a_clear_error():
    pytest.importorskip("torch")
    from bright_eval.rewriters.vllm_backend import VLLMBackend

    try:
        import vllm  # noqa: F401
        pytest.skip("vllm is installed: the GPU path is exercised on a GPU machine instead")
    except ImportError:
        pass
    with pytest.raises(BrightEvalError, match="vLLM backend needs vllm"):
        VLLMBackend("TongSearch/TongSearch-QR-7B")._load()


def test_backend_selection_without_vllm(tmp_path):
    pytest.importorskip("torch")
    rw = REWRITERS.create("tsqr-7b", cache=ArtifactCache(tmp_path))
    spec = rw.spec()
    assert spec["model"] == {"backend": "transformers", "model": "TongSearch/TongSearch-QR-7B", "revision": None, "dtype": "float32"}
    assert spec["sampling"] == {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "max_tokens": 500,
                                "seed": 0, "stop_token_ids": [151645, 151643], "presence_penalty": None, "frequency_penalty": None}
    assert spec["messages"][1]["content"].endswith("Query: {question}\n\n") and spec["prompt"] == "tsqr"
    with pytest.raises(BrightEvalError, match="option backend=.* expected one of: auto, vllm, transformers"):
        REWRITERS.create("tsqr-7b", backend="tgi")


def test_api_rewriter_needs_a_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    rw = REWRITERS.create("gpt-4o")  # creating it costs nothing; the key is needed before the first request
    with pytest.raises(BrightEvalError, match="set OPENAI_API_KEY"):
        rw.rewrite([Query("pony", "0", "x")])


def test_rewrite_command_writes_a_file_that_file_reads_back(proxy_dir, tmp_path):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    out = tmp_path / "tsqr.jsonl"
    res = CliRunner().invoke(app, ["rewrite", "-r", "bright:TongSearch-QR-7B", "--tasks", "biology,economics",
                                   "--data-dir", str(proxy_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 206 and {r["task"] for r in rows} == {"biology", "economics"}
    src = LocalSource(proxy_dir)
    qs = [Query(t, e.id, e.query) for t in ("biology", "economics") for e in src.examples(t)]
    assert REWRITERS.create(f"file:{out}").rewrite(qs) == REWRITERS.create("bright:TongSearch-QR-7B", source=src).rewrite(qs)


def test_is_cached_reports_what_a_rerun_would_generate(tmp_path):
    be = Scripted({"q1": "a", "q2": "b"})
    qs = [Query("pony", "1", "q1"), Query("pony", "2", "q2")]
    rw = LLMRewriter("s", be, cache=ArtifactCache(tmp_path))
    assert not rw.is_cached(qs)
    rw.rewrite(qs[:1])
    assert rw.is_cached(qs[:1]) and not rw.is_cached(qs)


def test_registry_names_every_option_that_changes_the_text(tmp_path):
    cache = ArtifactCache(tmp_path)
    assert REWRITERS.create("tsqr-7b", cache=cache).name == "tsqr-7b"
    assert REWRITERS.create("tsqr-7b", {"decoding": "released", "seed": 0, "batch_size": 4}, cache=cache).name == "tsqr-7b"
    assert REWRITERS.create("tsqr-7b", {"decoding": "greedy", "think": True}, cache=cache).name == "tsqr-7b(decoding=greedy,think=true)"
    assert REWRITERS.create("gpt-4o", {"prompt": "bright"}, cache=cache).name == "gpt-4o(prompt=bright)"
    with pytest.raises(BrightEvalError, match="option prompt=.* expected one of: tsqr, bright"):
        REWRITERS.create("tsqr-7b", {"prompt": "cot"}, cache=cache)
    with pytest.raises(BrightEvalError, match="option decoding=.* expected one of: released, greedy"):
        REWRITERS.create("tsqr-7b", {"decoding": "beam"}, cache=cache)


def test_decoding_presets_and_overrides(tmp_path):
    cache = ArtifactCache(tmp_path)
    greedy = REWRITERS.create("tsqr-1.5b", {"decoding": "greedy"}, cache=cache).sampling.to_dict()
    assert greedy == {"temperature": 0.0, "top_p": 1.0, "top_k": None, "repetition_penalty": 1.0, "max_tokens": 500, "seed": 0,
                      "stop_token_ids": [151645, 151643], "presence_penalty": None, "frequency_penalty": None}
    bright = REWRITERS.create("gpt-4o", {"prompt": "bright", "seed": 7}, cache=cache).sampling.to_dict()
    assert (bright["temperature"], bright["top_p"], bright["max_tokens"], bright["top_k"], bright["seed"]) == (0.8, 0.8, 2048, None, 7)
    tuned = REWRITERS.create("smollm2-135m-instruct", {"top_k": 40, "max_new_tokens": 64}, cache=cache).sampling
    assert (tuned.top_k, tuned.max_tokens, tuned.temperature, tuned.stop_token_ids) == (40, 64, 0.7, None)  # no Qwen ids for SmolLM2


def run_cli(args):
    from typer.testing import CliRunner

    from bright_eval.cli import app

    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("extra, system", [([], ""), (["--think"], "A conversation between User and Assistant")])
def test_show_request_prints_what_the_backend_gets_without_a_model(shared_bright, extra, system):
    res = run_cli(["rewrite", "--rewriter", "tsqr-7b", "--show-request", "--tasks", "biology,pony", "--limit", "1",
                   "--data-dir", str(shared_bright), *extra])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) == 2  # one query of each task; the 7B model was never loaded (nor reachable offline)
    src = LocalSource(shared_bright)
    rw = REWRITERS.create("tsqr-7b", {"think": bool(extra)})
    assert lines == rw.requests([Query("biology", *_first(src, "biology")), Query("pony", *_first(src, "pony"))])
    assert lines[0]["messages"][0]["content"].startswith(system) and lines[0]["sampling"]["top_k"] == 20


def _first(src, task):
    e = src.examples(task)[0]
    return e.id, e.query


def test_show_request_takes_rewriter_args_and_refuses_precomputed(shared_bright):
    res = run_cli(["rewrite", "-r", "gpt-4o", "--show-request", "--tasks", "biology", "--limit", "1", "--data-dir", str(shared_bright),
                   "--prompt", "bright", "--rewriter-args", "seed=3,max_new_tokens=100"])
    assert res.exit_code == 0, res.output
    req = json.loads(res.stdout)
    assert req["messages"][0] == {"role": "system", "content": "You are a helpful assistant"}
    assert (req["sampling"]["seed"], req["sampling"]["max_tokens"], req["sampling"]["temperature"]) == (3, 100, 0.8)
    res = run_cli(["rewrite", "-r", "gpt-4o", "--show-request", "--tasks", "biology", "--data-dir", str(shared_bright),
                   "--decoding", "greedy", "--rewriter-args", "decoding=released"])
    assert res.exit_code != 0 and "given twice" in str(res.exception)
    res = run_cli(["rewrite", "-r", "bright:TongSearch-QR-7B", "--show-request", "--tasks", "biology", "--data-dir", str(shared_bright)])
    assert res.exit_code != 0 and "sends no requests" in str(res.exception)
