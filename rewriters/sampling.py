"""Decoding parameters: one dictionary, handed unchanged to every backend (and printed by
`rewrite --show-request`); each backend maps it onto its own API.

Presets (`decoding=`):
* `released` (default): what the prompt's authors ran.
  - prompt `tsqr`: TongSearch-QR's VllmModel.DEFAULT_SAMPLING_PARAMS (scripts/evaluation/vllm_model.py:11-18):
    max_tokens 500, top_p 0.8, top_k 20, temperature 0.7, repetition_penalty 1.05, stop ids
    151645/151643 (Qwen2.5's <|im_end|> and <|endoftext|>; sent only to models with Qwen2.5's
    vocabulary, whatever the prompt). The released code sets no seed; ours is fixed (default 0) and recorded.
  - prompt `bright`: BRIGHT's reason.py:75,87,92-99: temperature 0.8, top_p 0.8, max_tokens 2048.
* `greedy`: temperature 0, no top-p/top-k truncation, repetition_penalty 1.0 (stated explicitly, so
  a server's own default such as llama.cpp's repeat_penalty 1.1 does not apply), same max_tokens.
Any single parameter can then be overridden.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from bright_eval.errors import BrightEvalError

QWEN25_STOP_IDS = (151645, 151643)  # vllm_model.py:17
DECODINGS = ("released", "greedy")


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    max_tokens: int = 500
    seed: int | None = None
    stop_token_ids: tuple[int, ...] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stop_token_ids"] = list(self.stop_token_ids) if self.stop_token_ids else None
        return d

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


_RELEASED = {
    "tsqr": Sampling(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=500),
    "bright": Sampling(temperature=0.8, top_p=0.8, max_tokens=2048),
}


def make_sampling(prompt: str, decoding: str = "released", *, qwen_vocab: bool = False, seed: int | None = 0,
                  max_new_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
                  top_k: int | None = None, repetition_penalty: float | None = None,
                  presence_penalty: float | None = None, frequency_penalty: float | None = None) -> Sampling:
    if decoding not in DECODINGS:
        raise BrightEvalError(f"--decoding must be one of {', '.join(DECODINGS)}, got '{decoding}'")
    base = _RELEASED[prompt]
    if decoding == "greedy":
        base = Sampling(temperature=0.0, top_p=1.0, top_k=None, repetition_penalty=1.0, max_tokens=base.max_tokens)
    # Qwen2.5's end-of-turn ids, sent whenever the model has that vocabulary (they mean nothing elsewhere).
    stop = QWEN25_STOP_IDS if qwen_vocab else None
    over = {k: v for k, v in dict(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, top_k=top_k,
                                  repetition_penalty=repetition_penalty, presence_penalty=presence_penalty,
                                  frequency_penalty=frequency_penalty).items() if v is not None}
    s = replace(base, seed=seed, stop_token_ids=stop, **over)
    if s.temperature < 0 or s.max_tokens < 1 or (s.top_p is not None and not 0 < s.top_p <= 1):
        raise BrightEvalError(f"invalid decoding: temperature {s.temperature}, top_p {s.top_p}, max_new_tokens {s.max_tokens}")
    return s
