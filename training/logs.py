"""Training logs: one JSON line per logging step (reward mean/std, KL, completion length and the
reward's components) and a PNG of the curves, both rewritten as training goes so a killed run
still leaves them behind."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

log = logging.getLogger(__name__)

CURVES = (("reward", "reward_std", "reward (mean ± std over completions)"), ("kl", None, "KL to the reference policy"),
          ("completions/mean_length", None, "completion length (tokens)"), ("reward/gain_pos", None, "score gain on positives"))


EVAL_KEY = "eval/ndcg@10"  # written by training/evaluate.py's callback, one line per evaluation


def read_log(path: Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def drop_after(path: Path, step: int) -> int:
    """Remove the lines logged after `step` (a run resumed from checkpoint-`step` logs those steps
    again); returns how many were dropped. The file is rewritten atomically."""
    path = Path(path)
    rows = read_log(path)
    kept = [r for r in rows if r.get("step", 0) <= step]
    if len(kept) != len(rows):
        from bright_eval.io import write_jsonl

        write_jsonl(path, kept)
    return len(rows) - len(kept)


def plot_curves(rows: list[dict], png: Path, title: str = "") -> bool:
    """Draw the curves that the log has; False (and a log line) when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'bright-eval[report]'): no training curve PNG")
        return False
    train = [r for r in rows if "reward" in r and "step" in r]
    panels = [c for c in CURVES if any(c[0] in r for r in train)]
    evals = [r for r in rows if EVAL_KEY in r and "step" in r]
    if evals:
        panels.append((EVAL_KEY, None, "held-out nDCG@10 (BM25)"))
    if not panels:
        return False
    fig, axes = plt.subplots(len(panels), 1, figsize=(7, 2.3 * len(panels)), sharex=True, squeeze=False)
    for ax, (key, std_key, label) in zip(axes[:, 0], panels):
        pts = [(r["step"], r[key], r.get(std_key, math.nan) if std_key else math.nan) for r in (evals if key == EVAL_KEY else train) if key in r]
        xs, ys, sd = zip(*pts)
        ax.plot(xs, ys, marker="o", ms=3)
        if std_key and not all(math.isnan(s) for s in sd):
            ax.fill_between(xs, [y - s for y, s in zip(ys, sd)], [y + s for y, s in zip(ys, sd)], alpha=0.2)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("GRPO step")
    if title:
        axes[0, 0].set_title(title, fontsize=9)
    fig.tight_layout()
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(png)
    return True


def make_callback(jsonl: Path, png: Path, title: str = ""):
    """A transformers TrainerCallback writing `jsonl` and `png` (main process only)."""
    from transformers import TrainerCallback

    class TrainingLog(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            # On resume the trainer has restored `global_step` from the checkpoint by now.
            if state.is_world_process_zero:
                dropped = drop_after(jsonl, state.global_step)
                if dropped:
                    log.info("%s: dropped %d log lines after step %d (resuming from its checkpoint)", jsonl, dropped, state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or not logs:
                return
            row = {"step": state.global_step, **{k: v for k, v in logs.items() if isinstance(v, (int, float, str))}}
            Path(jsonl).parent.mkdir(parents=True, exist_ok=True)
            with open(jsonl, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")

        def on_train_end(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                plot_curves(read_log(jsonl), png, title)

    return TrainingLog()
