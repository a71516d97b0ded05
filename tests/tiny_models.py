"""Tiny random-weight models of the architectures BRIGHT's dense baselines use, saved as
sentence-transformers folders shaped like the real ones, so encoders can be compared offline.

The tokenizer is a word-level vocabulary built from the texts it will see, with the special-token
template of the family (Mistral: BOS text EOS, as e5-mistral/SFR's tokenizers append EOS for
last-token pooling; Qwen2: text <|endoftext|>; BERT: [CLS] text [SEP])."""

from __future__ import annotations

import json
import re
from pathlib import Path

SPECIAL = {"mistral": ("<s>", "</s>", "<unk>"), "qwen2": (None, "<|endoftext|>", "<unk>"), "bert": ("[CLS]", "[SEP]", "[UNK]")}


def _tokenizer(arch: str, texts: list[str], padding_side: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    bos, eos, unk = SPECIAL[arch]
    words = sorted({w for t in texts for w in re.findall(r"\w+|[^\w\s]", t.lower())})
    specials = [s for s in (unk, bos, eos, "<pad>", "<|user|>", "<|embed|>") if s]
    vocab = {w: i for i, w in enumerate(specials + words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.normalizer = __import__("tokenizers").normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(r"<\|user\|>|<\|embed\|>", "isolated"),
                                                 pre_tokenizers.Whitespace()])
    single = " ".join(x for x in (bos and f"{bos}:0", "$A:0", eos and f"{eos}:0") if x)
    tok.post_processor = processors.TemplateProcessing(single=single, special_tokens=[(s, vocab[s]) for s in (bos, eos) if s])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token=unk, eos_token=eos, bos_token=bos, pad_token="<pad>",
                                   padding_side=padding_side, additional_special_tokens=["<|user|>", "<|embed|>"])
    return fast


def _model(arch: str, vocab_size: int, seed: int):
    import torch
    from transformers import BertConfig, BertModel, MistralConfig, MistralModel, Qwen2Config, Qwen2Model

    torch.manual_seed(seed)
    common = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    if arch == "mistral":
        return MistralModel(MistralConfig(**common, num_key_value_heads=2, max_position_embeddings=512, sliding_window=None))
    if arch == "qwen2":
        return Qwen2Model(Qwen2Config(**common, num_key_value_heads=2, max_position_embeddings=512))
    return BertModel(BertConfig(**common, max_position_embeddings=512, initializer_range=0.5))  # spread cosines apart


def build(folder: Path, arch: str, pooling: str, texts: list[str], padding_side: str = "right", seed: int = 0,
          normalize: bool = True, prompts: dict | None = None) -> Path:
    """A sentence-transformers folder: modules.json (Transformer, Pooling[, Normalize]) like the real model's."""
    tok = _tokenizer(arch, texts, padding_side)
    model = _model(arch, len(tok), seed)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
        (folder / "2_Normalize").mkdir(exist_ok=True)
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    modes = {m: pooling == m for m in ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens", "weightedmean_tokens", "lasttoken")}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 32, "include_prompt": True,
                                                                   **{f"pooling_mode_{m}": v for m, v in modes.items()}}))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": prompts or {}, "default_prompt_name": None,
                                                                          "similarity_fn_name": "cosine"}))
    return folder
