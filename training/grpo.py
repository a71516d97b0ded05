"""GRPO training of a query reasoner with TRL's `GRPOTrainer`, driven by one YAML file.

    model: Qwen/Qwen2.5-1.5B-Instruct   # hub id or local HF folder
    data: data/tsqr-train               # output of `bright-eval train prepare`
    output_dir: outputs/tsqr-1.5b
    max_prompt_length: 8000             # prompts longer than this (tokens) are dropped, with a count
    reward: {kind: advantage, scale: 10, negative_weight: 0, unparsable: -1, truncated: null}
    scorer: {kind: embedding, model: BAAI/bge-base-en-v1.5}   # or {kind: bm25, k1: 0.9, b: 0.4, normalize: false}
    lora: null                          # or {r: 16, lora_alpha: 32, lora_dropout: 0.05, target_modules: all-linear}
    grpo: {...}                         # any trl.GRPOConfig field, passed through unchanged

The final policy is written to `<output_dir>/final` as an ordinary HF folder (LoRA merged, tokenizer
and chat template included) with `bright_eval_training.json` beside it; TRL's own `checkpoint-N`
folders make a killed run resumable (`resume: true`, the default). Per-step logs go to
`<output_dir>/train_log.jsonl` and `<output_dir>/train_curve.png`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import time
from pathlib import Path
from typing import Any

from bright_eval.errors import BrightEvalError, require
from bright_eval.io import atomic_write_json, fingerprint_of, read_json, read_text

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
TOP_KEYS = {"model": None, "data": None, "output_dir": None, "seed": 42, "max_prompt_length": None,
            "max_train_questions": None, "reward": {}, "scorer": {"kind": "embedding"}, "lora": None, "grpo": {},
            "resume": True, "dtype": "auto", "eval": None}
REQUIRED = ("model", "data", "output_dir")


# -- configuration --------------------------------------------------------------------------------
def resolve_config_path(name: str | Path) -> Path:
    """A path, or the name of a shipped config (`tsqr-1.5b`, `tiny-cpu`, ...)."""
    p = Path(name)
    if p.exists():
        return p
    shipped = CONFIG_DIR / (p.name if p.suffix == ".yaml" else f"{p.name}.yaml")
    if shipped.exists():
        return shipped
    have = sorted(x.stem for x in CONFIG_DIR.glob("*.yaml"))
    raise BrightEvalError(f"config '{name}' not found: not a file, nor a shipped config ({', '.join(have)})")


def _parse_value(raw: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def apply_overrides(cfg: dict, overrides: list[str]) -> dict:
    """`key=value` or `a.b=value` (YAML values): `--set grpo.max_steps=3 --set model=/tmp/m`."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise BrightEvalError(f"--set '{item}': expected KEY=VALUE, e.g. grpo.max_steps=3")
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict):
                raise BrightEvalError(f"--set '{item}': '{part}' is not a mapping in the config")
            node = node[part]
        node[parts[-1]] = _parse_value(raw)
    return cfg


def load_config(name: str | Path, overrides: list[str] | None = None) -> tuple[dict, Path]:
    import yaml

    path = resolve_config_path(name)
    try:
        raw = yaml.safe_load(read_text(path, "a YAML training config")) or {}
    except yaml.YAMLError as exc:
        raise BrightEvalError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise BrightEvalError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    cfg = apply_overrides(raw, list(overrides or []))
    for key in cfg:
        if key not in TOP_KEYS:
            close = difflib.get_close_matches(key, list(TOP_KEYS), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise BrightEvalError(f"{path}: unknown key '{key}'{hint}; known keys: {', '.join(TOP_KEYS)}")
    for key, default in TOP_KEYS.items():
        cfg.setdefault(key, default)
    for key in REQUIRED:
        if not cfg.get(key):
            raise BrightEvalError(f"{path}: field '{key}' is required (set it in the file or with --set {key}=...)")
    for key in ("reward", "scorer", "grpo"):
        if not isinstance(cfg[key], dict):
            raise BrightEvalError(f"{path}: field '{key}' must be a mapping")
    return cfg, path


def grpo_args(cfg: dict, source: Path | str = "config"):
    """trl.GRPOConfig from the `grpo:` block; unknown fields are named with the closest valid one."""
    trl = require("trl", "train", "GRPO training")
    fields = {f.name for f in dataclasses.fields(trl.GRPOConfig)}
    for key in cfg["grpo"]:
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise BrightEvalError(f"{source}: grpo.{key} is not a trl.GRPOConfig field{hint}")
    params = dict(cfg["grpo"])
    params.setdefault("seed", cfg["seed"])
    params["output_dir"] = str(cfg["output_dir"])
    try:
        return trl.GRPOConfig(**params)
    except (ValueError, TypeError) as exc:
        raise BrightEvalError(f"{source}: grpo block rejected by trl.GRPOConfig: {exc}") from None


# -- data -----------------------------------------------------------------------------------------
def training_dataset(cfg: dict, tokenizer):
    """Rows of the prepared set whose prompt fits `max_prompt_length` tokens; returns (dataset, stats)."""
    datasets = require("datasets", "core", "GRPO training")
    from .data import load_train_rows

    rows = load_train_rows(Path(cfg["data"]))
    n_all = len(rows)
    limit = cfg.get("max_prompt_length")
    kept = []
    for r in rows:
        if limit:
            ids = tokenizer.apply_chat_template(r["prompt"], add_generation_prompt=True, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            if len(ids) > limit:
                continue
        kept.append({"prompt": r["prompt"], "question": r["question"], "positives": list(r["positives"]),
                     "negatives": list(r.get("negatives") or []), "think": bool(r.get("think", False))})
    if cfg.get("max_train_questions"):
        kept = kept[: int(cfg["max_train_questions"])]
    if not kept:
        raise BrightEvalError(f"{cfg['data']}: no training question left (max_prompt_length={limit} dropped all {n_all})")
    return datasets.Dataset.from_list(kept), {"questions": n_all, "used": len(kept), "dropped_prompt_too_long": n_all - len(kept)}


# -- training -------------------------------------------------------------------------------------
def _load_policy(cfg: dict):
    torch = require("torch", "train", "GRPO training")
    transformers = require("transformers", "train", "GRPO training")
    model_id = str(cfg["model"])
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_id)
    except Exception as exc:
        raise BrightEvalError(f"model '{model_id}': could not load its tokenizer ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not getattr(tokenizer, "chat_template", None):
        raise BrightEvalError(f"model '{model_id}': its tokenizer has no chat template; the prompt is a chat turn")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = cfg.get("dtype", "auto")
    dtype = dtype if dtype == "auto" else getattr(torch, str(dtype))
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(model_id, dtype=dtype)
    except Exception as exc:
        raise BrightEvalError(f"model '{model_id}': could not load ({type(exc).__name__}: {str(exc)[:200]})") from None
    return model, tokenizer


def _peft_config(cfg: dict):
    if not cfg.get("lora"):
        return None
    peft = require("peft", "train", "LoRA training")
    params = {"task_type": "CAUSAL_LM", **cfg["lora"]}
    try:
        return peft.LoraConfig(**params)
    except TypeError as exc:
        raise BrightEvalError(f"lora block rejected by peft.LoraConfig: {exc}") from None


def build_reward(cfg: dict, dataset, tokenizer, max_completion_length: int | None, analyzer=None):
    from .rewards import QueryReward, RewardConfig
    from .scorers import make_scorer

    background = None
    if cfg["scorer"].get("kind", "embedding") == "bm25":
        seen: dict[str, None] = {}
        for row in dataset:
            for d in list(row["positives"]) + list(row["negatives"]):
                seen.setdefault(d, None)
        background = list(seen)
    scorer = make_scorer(cfg["scorer"], background, analyzer=analyzer)
    try:
        rcfg = RewardConfig(**cfg["reward"])
    except TypeError as exc:
        raise BrightEvalError(f"reward block: {exc}") from None
    return QueryReward(scorer, rcfg, max_completion_length=max_completion_length, eos_token_id=tokenizer.eos_token_id)


def train(cfg: dict, config_path: Path | str = "config", analyzer=None) -> dict:
    """Run GRPO as configured; returns the provenance record written beside the final model."""
    trl = require("trl", "train", "GRPO training")
    from transformers.trainer_utils import get_last_checkpoint

    from .launch import batch_arithmetic
    from .logs import make_callback, read_log

    out = Path(cfg["output_dir"])
    # Before any model loads: accelerate sets WORLD_SIZE in every process it launches.
    batch_arithmetic(cfg["grpo"], int(os.environ.get("WORLD_SIZE", "1")), str(config_path))
    args = grpo_args(cfg, config_path)
    model, tokenizer = _load_policy(cfg)
    dataset, data_stats = training_dataset(cfg, tokenizer)
    reward = build_reward(cfg, dataset, tokenizer, args.max_completion_length, analyzer=analyzer)
    card_path = Path(cfg["data"]) / "card.json"
    data_card = read_json(card_path) if card_path.exists() else {}
    callbacks = []
    if cfg.get("eval"):
        from .evaluate import EvalConfig, HeldOut, make_eval_callback

        think = bool(dataset[0]["think"]) if len(dataset) else False
        callbacks.append(make_eval_callback(HeldOut(EvalConfig.from_block(cfg["eval"], str(config_path)), think), tokenizer,
                                            out / "train_log.jsonl"))
    # The log callback comes last: it draws the curve at the end, after the last evaluation is logged.
    callbacks.append(make_callback(out / "train_log.jsonl", out / "train_curve.png", title=f"{Path(str(cfg['model'])).name} · {reward.__name__}"))
    trainer = trl.GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset,
                              processing_class=tokenizer, peft_config=_peft_config(cfg), callbacks=callbacks)
    last = get_last_checkpoint(str(out)) if cfg.get("resume", True) and out.is_dir() else None
    _check_resume(out, cfg, last, trainer.accelerator.is_main_process)
    if last:
        log.info("resuming from %s", last)
    t0 = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=last)
    wall = time.perf_counter() - t0

    final = out / "final"
    record = {
        "schema": "bright-eval.training/1",
        "config": cfg,
        "config_fingerprint": fingerprint_of(cfg),
        "config_file": str(config_path),
        "data": {"dir": str(cfg["data"]), "card_fingerprint": data_card.get("config_fingerprint"), **data_stats},
        "reward": reward.spec(),
        "steps": trainer.state.global_step,
        "resumed_from": last,
        "train_seconds": round(wall, 1),
        "train_metrics": {k: v for k, v in (result.metrics or {}).items() if isinstance(v, (int, float))},
        "log": read_log(out / "train_log.jsonl")[-1:] ,
    }
    _save_final(trainer, tokenizer, final, cfg)
    if trainer.accelerator.is_main_process:
        from bright_eval.provenance import environment

        record["environment"] = environment()
        atomic_write_json(final / "bright_eval_training.json", record)
    return record


# Fields that may change between a run and its resumption without changing what is being trained.
_RESUMABLE = ("resume", "eval")
_RESUMABLE_GRPO = ("max_steps", "save_steps", "save_total_limit", "logging_steps", "report_to")


def run_fingerprint(cfg: dict) -> str:
    core = {k: v for k, v in cfg.items() if k not in _RESUMABLE}
    core["grpo"] = {k: v for k, v in cfg["grpo"].items() if k not in _RESUMABLE_GRPO}
    return fingerprint_of(core)


def _check_resume(out: Path, cfg: dict, last: str | None, main_process: bool) -> None:
    """Refuse to resume checkpoints that another configuration wrote (silently mixing two runs)."""
    marker = out / "bright_eval_run.json"
    fp = run_fingerprint(cfg)
    if last and marker.exists():
        prev = read_json(marker).get("run_fingerprint")
        if prev != fp:
            raise BrightEvalError(f"{out} holds checkpoints of a run with another configuration ({marker}); "
                                  f"choose a new output_dir or --set resume=false to start over")
    if main_process:
        atomic_write_json(marker, {"run_fingerprint": fp, "config": cfg})


def _save_final(trainer, tokenizer, final: Path, cfg: dict) -> None:
    """An HF folder that `hf:PATH` loads as is: LoRA merged into the base, tokenizer + chat template."""
    if cfg.get("lora"):
        if trainer.accelerator.is_main_process:
            merged = trainer.accelerator.unwrap_model(trainer.model).merge_and_unload()
            merged.save_pretrained(final)
    else:
        trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(final)
        gen = getattr(trainer.accelerator.unwrap_model(trainer.model), "generation_config", None)
        if gen is not None:
            gen.save_pretrained(final)


def main(argv: list[str] | None = None) -> None:
    """`python -m bright_eval.training --config FILE [--set k=v ...]`: the entry `accelerate launch -m` uses."""
    import argparse

    from bright_eval.errors import BrightEvalError as _E

    parser = argparse.ArgumentParser(prog="python -m bright_eval.training", description="GRPO training (see bright-eval train grpo)")
    parser.add_argument("--config", required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg, path = load_config(ns.config, ns.overrides)
        train(cfg, path)
    except _E as exc:
        raise SystemExit(f"error: {exc}") from None
