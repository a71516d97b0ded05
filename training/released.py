"""The released data recipe: TongSearch-QR's `build_dataset.py`, row for row.

Read at bigai-nlco/TongSearch-QR @ 1cdf6a48, scripts/data_process/build_dataset.py. Input is the
released raw format, one JSON object `{question: answer | [answers]}` (data_train/raw_data/V1-R1.json:
each sampled question with a reasoning model's text; V2.json: with answers). The key is the whole
user turn (the sampler's "Instructions: ... Question: <question>", sample_stackexchange.py:80).
Per key, in file order (build_dataset.py:59-91):

* skipped when the key contains ".png" (:61) or is longer than `max_length` characters (:64, default
  16000 at :33);
* the answer becomes a one-element list unless it is a list already (:68-69);
* the row is `prompt` = [system "" or the training think prompt, user = the key] (:72-75) and
  `answer` = json.dumps({"query": key, "pos_docs_list": answers, "think_flag": think},
  ensure_ascii=False) (:81-89);

then the rows are shuffled with Python's `random` seeded 2024 (:31,108-109) and written with
`datasets.Dataset.from_list(...).to_parquet` (:110,116). Nothing else: no leakage guard, no HTML
cleaning, no answer filters. The guard runs here too, but by default only reports (the rows stay
identical); `drop_leaks` removes the matching rows before the shuffle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from bright_eval.errors import BrightEvalError, require
from bright_eval.io import atomic_write_json, atomic_write_text, fingerprint_of, read_text
from bright_eval.rewriters.prompts import THINK_SYSTEM_TRAIN, TSQR_TRAIN_PREFIX

from .leakage import LeakageGuard

log = logging.getLogger(__name__)

COLUMNS = ("prompt", "answer")  # the released rows' columns, nothing more (build_dataset.py:87-90)


@dataclass
class ReleasedConfig:
    think: bool = False  # --use-think (build_dataset.py:32)
    max_length: int = 16_000  # --max-length (:33)
    seed: int = 2024  # --seed (:31)
    guard_tasks: tuple[str, ...] = ()  # empty: all 12 BRIGHT tasks
    near_duplicate_threshold: float = 0.6
    drop_leaks: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["guard_tasks"] = list(self.guard_tasks)
        return d


def bare_question(key: str) -> str:
    """The question inside a released key: the sampler's instruction prefix removed when present."""
    return key[len(TSQR_TRAIN_PREFIX):] if key.startswith(TSQR_TRAIN_PREFIX) else key


def read_raw(path: Path) -> dict:
    """The raw `{question: answer | [answers]}` object. A repeated key keeps its last answer, as
    json.load does in the released builder (:103), with a warning instead of silence."""
    text = read_text(path, "a released raw data file ({question: answer or list of answers})")
    repeated: list[str] = []

    def pairs(items):
        out: dict = {}
        for k, v in items:
            if k in out:
                repeated.append(k)
            out[k] = v
        return out

    try:
        obj = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise BrightEvalError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                              "expected the released raw format {question: answer or list of answers}") from None
    if not isinstance(obj, dict):
        hint = " (a list: the sampler's output? pair its questions with answers, e.g. `bright-eval train distill`)" if isinstance(obj, list) else ""
        raise BrightEvalError(f"{path}: expected a JSON object {{question: answer or list of answers}} at the top level, "
                              f"got {type(obj).__name__}{hint}")
    for key, value in obj.items():
        answers = value if isinstance(value, list) else [value]
        bad = next((a for a in answers if not isinstance(a, str)), None)
        if bad is not None or not answers:
            raise BrightEvalError(f"{path}: the value of question {key[:60]!r} must be a string or a non-empty list of strings, "
                                  f"got {json.dumps(value, ensure_ascii=False)[:80]}")
    if repeated:
        log.warning("%s: %d question(s) appear more than once; the last answer of each is kept (as json.load does), e.g. %r",
                    path, len(repeated), repeated[0][:60])
    return obj


def build_rows(raw: dict, cfg: ReleasedConfig, guard: LeakageGuard | None = None) -> tuple[list[dict], dict, list[dict]]:
    """(rows, dropped counts, leak matches) for a raw object, shuffled as released."""
    system = THINK_SYSTEM_TRAIN if cfg.think else ""
    rows: list[dict] = []
    dropped = {"png": 0, "too_long": 0, "leakage_exact": 0, "leakage_near": 0}
    leaks: list[dict] = []
    for question, answer in raw.items():
        if ".png" in question:
            dropped["png"] += 1
            continue
        if len(question) > cfg.max_length:
            dropped["too_long"] += 1
            continue
        if guard is not None:
            match = guard.check(bare_question(question))
            if match is not None:
                leaks.append({"question": question[:200], "bright_query": match.query_id, "kind": match.kind,
                              "overlap": round(match.overlap, 4)})
                if cfg.drop_leaks:
                    dropped[f"leakage_{match.kind}"] += 1
                    continue
        answers = answer if isinstance(answer, list) else [answer]
        solution = {"query": question, "pos_docs_list": answers, "think_flag": cfg.think}
        rows.append({"prompt": [{"role": "system", "content": system}, {"role": "user", "content": question}],
                     "answer": json.dumps(solution, ensure_ascii=False)})
    # A private generator with the same seed draws the same sequence as random.seed + random.shuffle.
    random.Random(cfg.seed).shuffle(rows)
    return rows, dropped, leaks


def rows_for_training(rows: list[dict], where: str) -> list[dict]:
    """Released rows (prompt, answer) as the GRPO trainer reads them: the answer's JSON unpacked."""
    out = []
    for i, r in enumerate(rows):
        try:
            sol = json.loads(r["answer"])
            query, docs = sol["query"], sol["pos_docs_list"]
        except (TypeError, ValueError, KeyError):
            raise BrightEvalError(f"{where}: row {i}: column 'answer' must be a JSON string with 'query' and 'pos_docs_list' "
                                  "(the released build_dataset.py rows)") from None
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs) or not docs:
            raise BrightEvalError(f"{where}: row {i}: answer.pos_docs_list must be a non-empty list of strings")
        out.append({"prompt": r["prompt"], "question": bare_question(query), "positives": docs, "negatives": [],
                    "think": bool(sol.get("think_flag", False))})
    return out


def prepare_released(cfg: ReleasedConfig, out: Path, input_path: Path, bright_source, overwrite: bool = False) -> tuple[dict, bool]:
    """Build (or reuse) `out/train.parquet` from a released raw file. Returns (card, reused)."""
    from bright_eval.tasks import TASKS, parse_tasks

    from .data import existing_card
    from .leakage import bright_queries

    out = Path(out)
    input_path = Path(input_path)
    if not input_path.is_file():
        raise BrightEvalError(f"--input {input_path}: file not found (the released raw format {{question: answer or list of answers}})")
    source = f"local:{input_path.resolve()}"
    fp = fingerprint_of({"recipe": "released", "config": cfg.to_dict(), "source": source,
                         "input_sha256": hashlib.sha256(input_path.read_bytes()).hexdigest()})
    if not overwrite:
        prev = existing_card(out, fp)
        if prev is not None:
            return prev, True
    raw = read_raw(input_path)
    guard_tasks = parse_tasks(list(cfg.guard_tasks)) if cfg.guard_tasks else list(TASKS)
    guard = LeakageGuard(bright_queries(bright_source, guard_tasks), threshold=cfg.near_duplicate_threshold)
    rows, dropped, leaks = build_rows(raw, cfg, guard)
    if not rows:
        raise BrightEvalError(f"--input {input_path}: no question survived (dropped: {dropped}); check --max-question-chars")
    datasets = require("datasets", "core", "writing the training set")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".train.parquet.tmp"
    datasets.Dataset.from_list(rows).to_parquet(str(tmp))
    tmp.replace(out / "train.parquet")
    from bright_eval.provenance import environment

    kinds = [m["kind"] for m in leaks]
    card = {
        "schema": "bright-eval.train-data/1",
        "recipe": "released",
        "source": source,
        "config": cfg.to_dict(),
        "config_fingerprint": fp,
        "n_questions": len(rows),
        "n_input": len(raw),
        "dropped": {k: v for k, v in dropped.items() if v},
        "leakage": {"protected_queries": len(guard), "found_exact": kinds.count("exact"), "found_near": kinds.count("near"),
                    "dropped": cfg.drop_leaks, "matches": leaks},
        "environment": environment(),
    }
    lines = [f"# Training set, released recipe ({len(rows)} questions)", "", f"Source: `{source}`", "",
             "Rows as TongSearch-QR's scripts/data_process/build_dataset.py writes them (prompt, answer).", "",
             "Dropped: " + (", ".join(f"{k} {v}" for k, v in card["dropped"].items()) or "none"), "",
             f"Leakage guard: {len(guard)} BRIGHT queries protected; {kinds.count('exact')} exact and {kinds.count('near')} "
             f"near-duplicate questions found, {'dropped' if cfg.drop_leaks else 'kept (as released; --drop-leaks removes them)'}.", ""]
    atomic_write_text(out / "README.md", "\n".join(lines))
    atomic_write_json(out / "card.json", card)
    return card, False
