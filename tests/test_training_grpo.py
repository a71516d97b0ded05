"""GRPO configs and the tiny-cpu recipe end to end: fixture -> prepare -> random Qwen2 -> real GRPO
steps -> HF checkpoint -> `bright-eval run --rewriter hf:CHECKPOINT`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bright_eval.cli import app
from bright_eval.errors import BrightEvalError
from bright_eval.training.grpo import apply_overrides, grpo_args, load_config, run_fingerprint

FIXTURE = Path(__file__).parent / "fixtures" / "stack_exchange_prefs.jsonl"


def test_shipped_recipes_carry_the_released_hyper_parameters():
    cfg, _ = load_config("tsqr-1.5b", ["grpo.bf16=false"])  # bf16 needs a GPU; everything else is validated here
    args = grpo_args(cfg)
    assert (args.per_device_train_batch_size, args.gradient_accumulation_steps, args.num_generations) == (16, 4, 16)
    assert (args.max_completion_length, args.max_steps, args.learning_rate, args.beta) == (500, 150, 1e-6, 0.008)
    assert (args.adam_beta1, args.adam_beta2, args.weight_decay, args.max_grad_norm) == (0.9, 0.99, 0.1, 0.1)
    assert args.use_vllm and args.vllm_mode == "server" and args.lr_scheduler_kwargs == {"min_lr_rate": 0.1}
    assert cfg["max_prompt_length"] == 8000 and cfg["seed"] == 5202
    assert cfg["reward"]["kind"] == "advantage" and cfg["reward"]["scale"] == 10.0
    assert cfg["scorer"] == {"kind": "embedding", "model": "BAAI/bge-base-en-v1.5", "batch_size": 64}
    seven, _ = load_config("tsqr-7b")
    assert seven["model"] == "Qwen/Qwen2.5-7B-Instruct" and seven["grpo"] == cfg["grpo"] | {"bf16": True}


def test_config_errors_name_file_and_field(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("model: m\ndata: d\noutput_dir: o\nrewards: {}\n")
    with pytest.raises(BrightEvalError, match=r"c.yaml: unknown key 'rewards' \(did you mean 'reward'\?\)"):
        load_config(bad)
    bad.write_text("model: m\ndata: d\n")
    with pytest.raises(BrightEvalError, match="field 'output_dir' is required"):
        load_config(bad)
    bad.write_text("model: m\ndata: d\noutput_dir: o\ngrpo: {num_generation: 4}\n")
    cfg, path = load_config(bad)
    with pytest.raises(BrightEvalError, match=r"grpo.num_generation is not a trl.GRPOConfig field \(did you mean 'num_generations'\?\)"):
        grpo_args(cfg, path)
    with pytest.raises(BrightEvalError, match="not found"):
        load_config("tsqr-70b")
    with pytest.raises(BrightEvalError, match="expected KEY=VALUE"):
        apply_overrides({}, ["grpo.max_steps"])


def test_overrides_are_typed_and_resume_fingerprint_ignores_step_budget():
    cfg = apply_overrides({"grpo": {"max_steps": 3}}, ["grpo.max_steps=10", "lora.r=8", "model=/m"])
    assert cfg == {"grpo": {"max_steps": 10}, "lora": {"r": 8}, "model": "/m"}
    a = {"model": "m", "grpo": {"max_steps": 3, "learning_rate": 1e-5}, "resume": True}
    assert run_fingerprint(a) == run_fingerprint({**a, "grpo": {"max_steps": 9, "learning_rate": 1e-5}, "resume": False})
    assert run_fingerprint(a) != run_fingerprint({**a, "grpo": {"max_steps": 3, "learning_rate": 2e-5}})


@pytest.mark.slow
def test_tiny_cpu_recipe_end_to_end(tmp_path, shared_bright, proxy_dir):
    runner = CliRunner()

    def cli(*args):
        res = runner.invoke(app, list(args))
        assert res.exit_code == 0, f"{args}: {res.output}\n{res.exception!r}"
        return res

    data, model, out = tmp_path / "data", tmp_path / "tiny", tmp_path / "run"
    cli("train", "prepare", "--input", str(FIXTURE), "--out", str(data), "--data-dir", str(shared_bright))
    cli("train", "init-model", "--arch", "qwen2-tiny", "--tokenizer-data", str(data), "--out", str(model), "--vocab-size", "600")
    cli("train", "grpo", "--config", "tiny-cpu", "--set", f"model={model}", "--set", f"data={data}", "--set", f"output_dir={out}")

    final = out / "final"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "bright_eval_training.json"):
        assert (final / name).exists(), name
    record = json.loads((final / "bright_eval_training.json").read_text())
    assert record["steps"] == 3 and record["data"]["used"] == 12
    assert record["reward"]["scorer"]["kind"] == "bm25" and record["reward"]["scorer"]["background_docs"] == 16
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "reward" in r]
    assert [r["step"] for r in steps] == [1, 2, 3]
    for key in ("reward", "reward_std", "kl", "completions/mean_length", "reward/gain_pos", "reward/parsed_frac"):
        assert all(key in r for r in steps), key
    assert (out / "train_curve.png").stat().st_size > 1000
    assert (out / "checkpoint-3").is_dir()  # TRL's resumable checkpoint

    # The checkpoint is an ordinary HF folder: the model generates through its chat template.
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(final)
    ids = tok.apply_chat_template([{"role": "user", "content": "why do onions make eyes water"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    gen = AutoModelForCausalLM.from_pretrained(final).generate(**ids, max_new_tokens=5, do_sample=False)
    assert gen.shape[1] > ids["input_ids"].shape[1]

    # Resuming with a changed configuration is refused instead of mixing two runs.
    res = runner.invoke(app, ["train", "grpo", "--config", "tiny-cpu", "--set", f"model={model}", "--set", f"data={data}",
                              "--set", f"output_dir={out}", "--set", "grpo.learning_rate=0.5"])
    assert isinstance(res.exception, BrightEvalError) and "another configuration" in str(res.exception)

    res = cli("run", "--rewriter", f"hf:{final}", "--retriever", "bm25", "--tasks", "biology", "--data-dir", str(proxy_dir),
              "--results-dir", str(tmp_path / "results"), "--max-new-tokens", "16", "--format", "json")
    scores = json.loads(res.stdout.strip().splitlines()[-1])
    assert 0.0 <= scores["biology"]["ndcg@10"] <= 1.0


def test_resumed_run_drops_the_log_lines_after_its_checkpoint(tmp_path):
    # Killed at step 23, resumed from checkpoint-20: steps 21-23 must not appear twice in the log.
    from types import SimpleNamespace

    from bright_eval.training.logs import make_callback, read_log

    jsonl = tmp_path / "train_log.jsonl"
    jsonl.write_text("".join(json.dumps({"step": s, "reward": s / 10}) + "\n" for s in range(1, 24)))
    callback = make_callback(jsonl, tmp_path / "curve.png")
    state = SimpleNamespace(global_step=20, is_world_process_zero=True)
    callback.on_train_begin(None, state, None)
    assert [r["step"] for r in read_log(jsonl)] == list(range(1, 21))
    callback.on_log(None, SimpleNamespace(global_step=21, is_world_process_zero=True), None, logs={"reward": 0.5})
    assert [r["step"] for r in read_log(jsonl)] == list(range(1, 22))


def test_held_out_ndcg_is_logged_beside_the_reward_and_drawn(tmp_path, shared_bright, tiny_bright):
    from bright_eval.data import LocalSource
    from bright_eval.training.data import PrepareConfig, load_train_rows, prepare
    from bright_eval.training.grpo import train
    from bright_eval.training.logs import read_log
    from bright_eval.training.models import random_model, train_tokenizer

    data, model, out = tmp_path / "data", tmp_path / "tiny", tmp_path / "run"
    prepare(PrepareConfig(sites=("biology", "math", "stackoverflow")), data, LocalSource(shared_bright), input_path=FIXTURE)
    rows = load_train_rows(data)
    random_model("qwen2-tiny", model, train_tokenizer([t for r in rows for t in [r["question"], *r["positives"]]], 600))
    cfg, path = load_config("tiny-cpu", [f"model={model}", f"data={data}", f"output_dir={out}", "grpo.max_steps=2",
                                         "grpo.max_completion_length=8",
                                         f"eval={{data: {tiny_bright}, tasks: [biology], every: 2, max_queries: 3, max_new_tokens: 6}}"])
    record = train(cfg, path)
    log = read_log(out / "train_log.jsonl")
    evals = [r for r in log if "eval/ndcg@10" in r]
    assert [r["step"] for r in evals] == [0, 2]  # before training and every 2 steps
    assert all(0 <= r["eval/ndcg@10"] <= 100 and r["eval/ndcg@10"] == r["eval/ndcg@10/biology"] and r["eval/seconds"] > 0 for r in evals)
    assert [r["step"] for r in log if "reward" in r] == [1, 2] and record["steps"] == 2
    assert (out / "train_curve.png").stat().st_size > 1000


def test_eval_block_errors_name_the_field(tmp_path):
    from bright_eval.training.evaluate import EvalConfig, HeldOut

    with pytest.raises(BrightEvalError, match=r"c.yaml: field 'eval' must be a mapping with 'data'"):
        EvalConfig.from_block({"tasks": ["biology"]}, "c.yaml")
    with pytest.raises(BrightEvalError, match=r"c.yaml: eval.evry is not an eval field"):
        EvalConfig.from_block({"data": "d", "evry": 3}, "c.yaml")
    with pytest.raises(BrightEvalError, match=r"c.yaml: eval.every must be a positive integer, got 0"):
        EvalConfig.from_block({"data": "d", "every": 0}, "c.yaml")
    with pytest.raises(BrightEvalError, match=r"eval.data .*missing: not a folder"):
        HeldOut(EvalConfig(data=str(tmp_path / "missing")))
