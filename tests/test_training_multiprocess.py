"""GRPO in two CPU processes under `accelerate launch --multi_gpu --num_processes 2` (gloo), killed after its first checkpoint and
resumed with two processes; the batch arithmetic checked before launch; launch plans for 4 and 8 GPUs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bright_eval.data import LocalSource
from bright_eval.errors import BrightEvalError
from bright_eval.training.grpo import CONFIG_DIR, load_config
from bright_eval.training.launch import batch_arithmetic, make_plan, model_params

HERE = Path(__file__).parent
FIXTURE = HERE / "fixtures" / "stack_exchange_prefs.jsonl"


def test_batch_arithmetic_is_checked_with_the_numbers_named():
    b = batch_arithmetic({"per_device_train_batch_size": 16, "gradient_accumulation_steps": 4, "num_generations": 16}, 3)
    assert (b["completions_per_step"], b["questions_per_step"], b["generation_batch"]) == (192, 12, 192)
    with pytest.raises(BrightEvalError, match=r"c.yaml: per_device_train_batch_size 3 x 2 processes x gradient_accumulation_steps 1 = 6 "
                                              r"completions per generation, not divisible by num_generations 4; per-device batches that fit: 2, 4"):
        batch_arithmetic({"per_device_train_batch_size": 3, "num_generations": 4}, 2, "c.yaml")
    with pytest.raises(BrightEvalError, match="generation_batch_size 10 is not a multiple"):
        batch_arithmetic({"per_device_train_batch_size": 4, "generation_batch_size": 10, "num_generations": 2}, 2)
    with pytest.raises(BrightEvalError, match="at least 2"):
        batch_arithmetic({"num_generations": 1}, 1)


def test_plans_for_4_and_8_gpus_follow_the_released_layout():
    cfg, _ = load_config("tsqr-7b")
    four = make_plan(cfg, "tsqr-7b", 4)
    # run_server.sh / run_train.sh: GPU 0 serves, GPUs 1-3 train with ZeRO-2, 16 x 3 x 4 = 192 = 12 x 16.
    assert (four.rollout_gpus, four.train_gpus, four.zero_stage, four.overrides) == ([0], [1, 2, 3], 2, [])
    assert (four.batch["completions_per_step"], four.batch["questions_per_step"]) == (192, 12)
    assert four.commands[0] == "CUDA_VISIBLE_DEVICES=0 trl vllm-serve --model Qwen/Qwen2.5-7B-Instruct --max_model_len 9000 --port 8000"
    assert four.commands[1].startswith('CUDA_VISIBLE_DEVICES=1,2,3 accelerate launch --config_file "$(bright-eval train configs --path zero2)" '
                                       "--num_processes 3 -m bright_eval.training --config tsqr-7b")
    assert model_params("Qwen/Qwen2.5-7B-Instruct") == pytest.approx(7.62e9, rel=0.005)  # the model card's 7.61B (incl. untied head)
    assert model_params("Qwen/Qwen2.5-1.5B-Instruct") == pytest.approx(1.54e9, rel=0.005)
    # ZeRO-2 on 3 GPUs: bf16 weights + reference (2 x 2P), gradients 2P/3, fp32 Adam 12P/3.
    assert four.memory_gib["total"] == pytest.approx((4 + 14 / 3) * 7.6156e9 / 2**30, abs=0.2)

    eight = make_plan(cfg, "tsqr-7b", 8)  # 7 trainers cannot hold 192 completions: 2 serve (data parallel), 6 train with accumulation 2
    assert (eight.rollout_gpus, eight.train_gpus, eight.overrides) == ([0, 1], [2, 3, 4, 5, 6, 7], ["grpo.gradient_accumulation_steps=2"])
    assert eight.batch["completions_per_step"] == 192 and "--data_parallel_size 2" in eight.commands[0]
    assert eight.commands[1].endswith("--num_processes 6 -m bright_eval.training --config tsqr-7b --set grpo.gradient_accumulation_steps=2")
    grown = make_plan(cfg, "tsqr-7b", 8, keep_batch=False)
    assert grown.train_gpus == [1, 2, 3, 4, 5, 6, 7] and grown.batch["questions_per_step"] == 28

    with pytest.raises(BrightEvalError, match="--gpus 1: .*needs a GPU of its own"):
        make_plan(cfg, "tsqr-7b", 1)
    with pytest.raises(BrightEvalError, match="--gpus 8: no workable split .*7 training GPUs"):
        make_plan(cfg, "tsqr-7b", 8, rollout_gpus=1)
    with pytest.raises(BrightEvalError, match=r"--gpus 2: 7.62B parameters need .* even with ZeRO-3 over 1 GPUs"):
        make_plan(cfg, "tsqr-7b", 2)


@pytest.mark.parametrize("name,stage", [("zero2", 2), ("zero3", 3)])
def test_shipped_zero_configs_are_valid_accelerate_configs(name, stage):
    from accelerate.commands.config.config_args import ClusterConfig

    path = CONFIG_DIR / f"{name}.yaml"
    cfg = ClusterConfig.from_yaml_file(str(path))  # accelerate's own reader rejects unknown keys
    assert str(cfg.distributed_type) in ("DEEPSPEED", "DistributedType.DEEPSPEED")
    assert cfg.deepspeed_config["zero_stage"] == stage and cfg.mixed_precision == "bf16" and cfg.num_processes == 3
    raw = yaml.safe_load(path.read_text())
    assert raw["use_cpu"] is False and raw["num_machines"] == 1


def _launch(args: list[str], probe: Path, log: Path) -> subprocess.Popen:
    # `accelerate launch --cpu --num_processes 2` starts ONE process (accelerate 1.x spreads CPU processes only
    # through mpirun); torchrun's launcher (--multi_gpu) with no visible GPU starts two, joined over gloo.
    env = {**os.environ, "PROBE_DIR": str(probe), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--multi_gpu", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", str(HERE / "grpo_rank_probe.py"), *args]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def _probe(probe: Path) -> dict[str, list[dict]]:
    return {p.stem: [json.loads(x) for x in p.read_text().splitlines()] for p in sorted(probe.glob("rank*.jsonl"))}


def test_two_process_grpo_killed_and_resumed(tmp_path, shared_bright):
    from bright_eval.training.data import PrepareConfig, load_train_rows, prepare
    from bright_eval.training.models import random_model, train_tokenizer

    data, model, out = tmp_path / "data", tmp_path / "tiny", tmp_path / "run"
    prepare(PrepareConfig(), data, LocalSource(shared_bright), input_path=FIXTURE)
    rows = load_train_rows(data)
    random_model("qwen2-tiny", model, train_tokenizer([t for r in rows for t in [r["question"], *r["positives"]]], 600))
    args = ["--config", "tiny-cpu", "--set", f"model={model}", "--set", f"data={data}", "--set", f"output_dir={out}",
            "--set", "grpo.max_steps=6", "--set", "grpo.save_steps=2", "--set", "grpo.max_completion_length=8"]

    first = tmp_path / "probe1"
    first.mkdir()
    proc = _launch(args, first, tmp_path / "launch1.log")
    ckpt = out / "checkpoint-2"
    deadline = time.time() + 240
    # Killed once checkpoint-2 is complete (transformers writes its trainer state last).
    while not (ckpt / "trainer_state.json").exists():
        assert proc.poll() is None, (tmp_path / "launch1.log").read_text()[-3000:]
        assert time.time() < deadline, "no checkpoint-2 in time"
        time.sleep(0.05)
    # A machine going down: every process of the tree at once (torchrun's workers run in sessions of their
    # own, so killing the launcher's process group would leave them training).
    import psutil

    tree = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    for pid in tree:
        os.kill(pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "final").exists()
    calls = _probe(first)
    assert set(calls) == {"rank0", "rank1"}  # both ranks scored their own completions
    assert all(c["n"] == 4 for cs in calls.values() for c in cs)  # per-device batch 4 = one question x 4 generations
    assert calls["rank0"][0]["questions"] != calls["rank1"][0]["questions"]

    second = tmp_path / "probe2"
    second.mkdir()
    proc = _launch(args, second, tmp_path / "launch2.log")
    assert proc.wait(timeout=300) == 0, (tmp_path / "launch2.log").read_text()[-3000:]
    calls = _probe(second)
    # Resumed at step 3: four more steps, each rank scoring once per step, nothing repeated.
    assert {k: len(v) for k, v in calls.items()} == {"rank0": 4, "rank1": 4}
    log = [json.loads(x) for x in (out / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "reward" in r] == [1, 2, 3, 4, 5, 6]  # rank 0 alone writes, each step once
    record = json.loads((out / "final" / "bright_eval_training.json").read_text())
    assert record["steps"] == 6 and record["resumed_from"].endswith("checkpoint-2")
    assert (out / "train_curve.png").stat().st_size > 1000 and (out / "checkpoint-6").is_dir()
