"""What vLLM's engine and SamplingParams receive for tsqr-*, checked with a stand-in `vllm` module
(no GPU here): the released settings are scripts/evaluation/vllm_model.py:11-18 and 27-36."""

import sys
import types

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.rewriters import REWRITERS, Query
from bright_eval.rewriters.prompts import THINK_SYSTEM_EVAL


class FakeVLLM(types.ModuleType):
    def __init__(self):
        super().__init__("vllm")
        self.engine, self.params, self.chats = {}, [], []
        outer = self

        class SamplingParams:
            def __init__(self, **kw):
                outer.params.append(kw)

        class LLM:
            def __init__(self, **kw):
                outer.engine.update(kw)

            def chat(self, conversations, params, use_tqdm=True):
                outer.chats.extend(conversations)
                out = types.SimpleNamespace(text="reasoned", token_ids=[1, 2])
                return [types.SimpleNamespace(outputs=[out], prompt_token_ids=[1] * 10) for _ in conversations]

        self.SamplingParams, self.LLM = SamplingParams, LLM


@pytest.fixture()
def fake_vllm(monkeypatch):
    torch = pytest.importorskip("torch")
    fake = FakeVLLM()
    monkeypatch.setitem(sys.modules, "vllm", fake)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    return fake


RELEASED = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repetition_penalty": 1.05, "max_tokens": 500, "seed": 0,
            "stop_token_ids": [151645, 151643]}
GREEDY = {"temperature": 0.0, "top_p": 1.0, "repetition_penalty": 1.0, "max_tokens": 500, "seed": 0, "stop_token_ids": [151645, 151643]}


@pytest.mark.parametrize("args, want", [({}, RELEASED), ({"think": True}, RELEASED), ({"decoding": "greedy"}, GREEDY),
                                        ({"decoding": "greedy", "think": True, "seed": 9}, {**GREEDY, "seed": 9})])
def test_tsqr_on_vllm_gets_the_released_engine_and_sampling(fake_vllm, tmp_path, args, want):
    rw = REWRITERS.create("tsqr-7b", {"backend": "vllm", **args}, cache=ArtifactCache(tmp_path))
    qs = [Query("pony", "0", "How do I shade a drawing?")]
    assert rw.rewrite(qs) == ["reasoned"]
    assert fake_vllm.params == [want] and rw.spec()["sent"] == want
    assert fake_vllm.engine["model"] == "TongSearch/TongSearch-QR-7B"
    assert (fake_vllm.engine["dtype"], fake_vllm.engine["max_model_len"]) == ("bfloat16", 16000)
    assert fake_vllm.chats == [rw.requests(qs)[0]["messages"]]
    assert fake_vllm.chats[0][0] == {"role": "system", "content": THINK_SYSTEM_EVAL if args.get("think") else ""}


def test_other_models_keep_their_own_engine_defaults(fake_vllm, tmp_path):
    REWRITERS.create("qwen2.5-7b-instruct", {"backend": "vllm"}, cache=ArtifactCache(tmp_path)).rewrite([Query("pony", "0", "x")])
    assert "dtype" not in fake_vllm.engine or fake_vllm.engine["dtype"] == "auto"
    assert "max_model_len" not in fake_vllm.engine
