"""How a GRPO run is laid out over processes and GPUs: the batch arithmetic TRL requires, checked
before anything loads, and launch plans for one multi-GPU machine.

The released run (bigai-nlco/TongSearch-QR @ 1cdf6a48) uses four GPUs: GPU 0 serves rollouts with
`trl vllm-serve --max_model_len 9000` (scripts/train/run_server.sh:2-4), GPUs 1-3 train under
`accelerate launch --config_file=scripts/train/zero2.yaml` (run_train.sh:2-3; zero2.yaml: DeepSpeed
ZeRO-2, bf16, 3 processes) with per-device batch 16, accumulation 4 and 16 generations
(run_train.sh:7-9): 16 x 3 x 4 = 192 completions = 12 questions per optimiser step.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bright_eval.errors import BrightEvalError

# TRL 1.x GRPOConfig defaults, for blocks that leave a field out.
GRPO_DEFAULTS = {"per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "num_generations": 8}
RELEASED_SERVE = {"max_model_len": 9000, "port": 8000}  # run_server.sh:4
GIB = 1024 ** 3


def batch_arithmetic(grpo: dict, num_processes: int, where: str = "config") -> dict:
    """The batch TRL will build (GRPOConfig.__post_init__): a generation batch of per-device batch x
    processes x steps_per_generation completions (default steps: the accumulation) must hold whole
    groups of num_generations. Raises one line naming the numbers when it does not."""
    per = int(grpo.get("per_device_train_batch_size", GRPO_DEFAULTS["per_device_train_batch_size"]))
    accum = int(grpo.get("gradient_accumulation_steps", GRPO_DEFAULTS["gradient_accumulation_steps"]))
    ngen = int(grpo.get("num_generations", GRPO_DEFAULTS["num_generations"]))
    spg, gbs = grpo.get("steps_per_generation"), grpo.get("generation_batch_size")
    if num_processes < 1:
        raise BrightEvalError(f"{where}: number of training processes must be at least 1, got {num_processes}")
    if ngen < 2:
        raise BrightEvalError(f"{where}: grpo.num_generations must be at least 2 (GRPO compares completions of one question), got {ngen}")
    if spg is not None and gbs is not None:
        raise BrightEvalError(f"{where}: set grpo.steps_per_generation or grpo.generation_batch_size, not both")
    step = per * num_processes
    if gbs is not None:
        if int(gbs) % step:
            raise BrightEvalError(f"{where}: grpo.generation_batch_size {gbs} is not a multiple of per_device_train_batch_size {per} "
                                  f"x {num_processes} processes = {step}")
        gbs = int(gbs)
        spg = gbs // step
    else:
        spg = int(spg) if spg is not None else accum
        gbs = step * spg
    if gbs % ngen:
        fits = sorted({p for p in range(1, 4 * per + 1) if (p * num_processes * spg) % ngen == 0})[:4]
        steps_name = "steps_per_generation" if grpo.get("steps_per_generation") else "gradient_accumulation_steps"
        raise BrightEvalError(
            f"{where}: per_device_train_batch_size {per} x {num_processes} processes x {steps_name} "
            f"{spg} = {gbs} completions per generation, not divisible by num_generations {ngen}"
            + (f"; per-device batches that fit: {', '.join(map(str, fits))}" if fits else ""))
    return {"per_device_train_batch_size": per, "processes": num_processes, "gradient_accumulation_steps": accum,
            "num_generations": ngen, "steps_per_generation": spg, "generation_batch": gbs,
            "completions_per_step": per * num_processes * accum, "questions_per_step": per * num_processes * accum / ngen}


# -- model size ------------------------------------------------------------------------------------
KNOWN_MODELS = {"Qwen/Qwen2.5-1.5B-Instruct": "qwen2.5-1.5b", "Qwen/Qwen2.5-7B-Instruct": "qwen2.5-7b",
                "TongSearch/TongSearch-QR-1.5B": "qwen2.5-1.5b", "TongSearch/TongSearch-QR-7B": "qwen2.5-7b"}


def qwen2_params(c: dict) -> int:
    """Parameter count of a Qwen2 config (embeddings, attention with q/k/v biases, SwiGLU MLP, norms)."""
    h, i, n, v = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    kv = h // c["num_attention_heads"] * c["num_key_value_heads"]
    layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * i + 2 * h
    return v * h * (1 if c.get("tie_word_embeddings") else 2) + n * layer + h


def model_params(model: str) -> int:
    from .models import ARCHS

    if model in KNOWN_MODELS:
        return qwen2_params(ARCHS[KNOWN_MODELS[model]])
    cfg = Path(model) / "config.json"
    if cfg.is_file():
        c = json.loads(cfg.read_text(encoding="utf-8"))
        if all(k in c for k in ("hidden_size", "intermediate_size", "num_hidden_layers", "vocab_size", "num_attention_heads")):
            c.setdefault("num_key_value_heads", c["num_attention_heads"])
            return qwen2_params(c)
    raise BrightEvalError(f"model '{model}': size unknown (known: {', '.join(KNOWN_MODELS)}, or a local folder with a "
                          "Qwen2-style config.json); give it with --params-b")


def train_memory_gib(params: int, stage: int, train_gpus: int, reference: bool) -> dict:
    """Per training GPU, mixed precision with Adam (ZeRO paper, Rajbhandari et al. 2020, Sec. 3: 2 bytes of
    bf16 weights, 2 of gradients, 12 of fp32 master weights and Adam moments per parameter). ZeRO-2
    shards gradients and optimiser states over the training GPUs, ZeRO-3 the weights too. The frozen
    reference policy (beta > 0) is one more bf16 copy (sharded under ZeRO-3). Activations not included."""
    weights = 2 * params / (train_gpus if stage == 3 else 1)
    ref = (2 * params / (train_gpus if stage == 3 else 1)) if reference else 0
    grads = 2 * params / train_gpus
    optim = 12 * params / train_gpus
    parts = {"weights": weights, "reference": ref, "gradients": grads, "optimizer": optim}
    out = {k: round(v / GIB, 1) for k, v in parts.items()}
    out["total"] = round(sum(parts.values()) / GIB, 1)
    return out


# -- plans -----------------------------------------------------------------------------------------
@dataclass
class Plan:
    config: str
    gpus: int
    rollout_gpus: list[int]
    train_gpus: list[int]
    zero_stage: int
    batch: dict
    overrides: list[str]
    params: int
    memory_gib: dict
    gpu_memory_gib: float
    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def make_plan(cfg: dict, config_name: str, gpus: int, rollout_gpus: int | None = None, keep_batch: bool = True,
              gpu_memory_gib: float = 80.0, params: int | None = None) -> Plan:
    """Which GPUs serve rollouts and which train, with the exact commands. `keep_batch` holds the
    config's effective batch (its questions per step) by changing the accumulation; refuses splits
    where that, TRL's batch arithmetic or the memory estimate cannot work."""
    grpo = dict(cfg["grpo"])
    server = bool(grpo.get("use_vllm")) and grpo.get("vllm_mode", "server") == "server"
    if gpus < 1:
        raise BrightEvalError(f"--gpus must be at least 1, got {gpus}")
    if server and gpus < 2:
        raise BrightEvalError(f"--gpus {gpus}: config '{config_name}' takes rollouts from `trl vllm-serve` (grpo.vllm_mode: server), "
                              "which needs a GPU of its own besides at least one training GPU")
    if not server and rollout_gpus:
        raise BrightEvalError(f"--rollout-gpus: config '{config_name}' generates inside the trainer (no vllm_mode: server)")
    per = int(grpo.get("per_device_train_batch_size", GRPO_DEFAULTS["per_device_train_batch_size"]))
    accum = int(grpo.get("gradient_accumulation_steps", GRPO_DEFAULTS["gradient_accumulation_steps"]))
    released_procs = 3  # the shipped configs' batch is the released one, over three training GPUs
    target = per * released_procs * accum
    candidates = [rollout_gpus] if rollout_gpus is not None else list(range(1, gpus)) if server else [0]
    reasons = []
    for r in candidates:
        t = gpus - r
        if server and (r < 1 or t < 1):
            reasons.append(f"{r} rollout + {t} training GPUs: needs at least one of each")
            continue
        new_accum = accum
        if keep_batch:
            if target % (per * t):
                reasons.append(f"{r} rollout + {t} training GPUs: {target} completions per step is not per-device {per} x {t} x an integer")
                continue
            new_accum = target // (per * t)
        try:
            batch = batch_arithmetic({**grpo, "gradient_accumulation_steps": new_accum}, t, f"config '{config_name}'")
        except BrightEvalError as exc:
            reasons.append(f"{r} rollout + {t} training GPUs: {exc}")
            continue
        break
    else:
        hint = "; --scale-batch keeps the accumulation and lets the batch grow" if keep_batch else ""
        raise BrightEvalError(f"--gpus {gpus}: no workable split ({'; '.join(reasons)}){hint}")

    n_params = params or model_params(str(cfg["model"]))
    reference = float(grpo.get("beta", 0.0)) != 0.0
    stage, mem = 2, train_memory_gib(n_params, 2, t, reference)
    if mem["total"] > gpu_memory_gib:
        stage, mem = 3, train_memory_gib(n_params, 3, t, reference)
        if mem["total"] > gpu_memory_gib:
            raise BrightEvalError(f"--gpus {gpus}: {n_params / 1e9:.2f}B parameters need {mem['total']} GiB per training GPU even "
                                  f"with ZeRO-3 over {t} GPUs (> --gpu-memory {gpu_memory_gib:g}); use more GPUs or LoRA")
    rollout = list(range(r))
    train_ids = list(range(r, gpus))
    overrides = [] if new_accum == accum else [f"grpo.gradient_accumulation_steps={new_accum}"]
    plan = Plan(config_name, gpus, rollout, train_ids, stage, batch, overrides, n_params, mem, gpu_memory_gib)
    model = cfg["model"]
    sets = "".join(f" --set {o}" for o in overrides)
    if server:
        dp = f" --data_parallel_size {r}" if r > 1 else ""
        plan.commands.append(f"CUDA_VISIBLE_DEVICES={','.join(map(str, rollout))} trl vllm-serve --model {model} "
                             f"--max_model_len {RELEASED_SERVE['max_model_len']} --port {grpo.get('vllm_server_port', RELEASED_SERVE['port'])}{dp}")
    plan.commands.append(f"CUDA_VISIBLE_DEVICES={','.join(map(str, train_ids))} accelerate launch --config_file "
                         f"\"$(bright-eval train configs --path zero{stage})\" --num_processes {t} "
                         f"-m bright_eval.training --config {config_name}{sets}")
    if server:
        plan.notes.append(f"rollout GPU(s) {','.join(map(str, rollout))}: vLLM holds the bf16 weights "
                          f"({2 * n_params / GIB:.1f} GiB) and reserves up to 90% of the GPU for its KV cache (gpu_memory_utilization 0.9)")
    plan.notes.append(f"per training GPU (ZeRO-{stage}, bf16 + fp32 Adam): ~{mem['total']} GiB before activations "
                      "(gradient checkpointing keeps those small)")
    if batch["completions_per_step"] != target:
        plan.notes.append(f"effective batch {batch['completions_per_step']} completions, not the released {target}")
    return plan


def render_plan(plan: Plan) -> str:
    b = plan.batch
    lines = [f"# {plan.config} on {plan.gpus} GPU(s): rollouts on {plan.rollout_gpus or 'the training GPUs'}, "
             f"training on {plan.train_gpus} (DeepSpeed ZeRO-{plan.zero_stage})",
             f"# batch: {b['per_device_train_batch_size']} per device x {b['processes']} processes x {b['gradient_accumulation_steps']} "
             f"accumulation = {b['completions_per_step']} completions = {b['questions_per_step']:g} questions x {b['num_generations']} "
             f"generations per step",
             f"# model: {plan.params / 1e9:.2f}B parameters; memory per training GPU (GiB): " +
             ", ".join(f"{k} {v}" for k, v in plan.memory_gib.items()) + f" (of {plan.gpu_memory_gib:g})"]
    lines += [f"# {n}" for n in plan.notes]
    lines += plan.commands
    return "\n".join(lines)
