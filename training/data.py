"""Training data for query-reasoning RL: Stack Exchange questions with the answers that define the reward.

Source: HF `HuggingFaceH4/stack-exchange-preferences` (streamed one site folder at a time) or a local
JSONL in the same schema (`question`, `answers[{answer_id, author, pm_score, selected, text}]`,
`metadata` = list of URLs whose first names the site). Per question:

* positives: the accepted answer and the highest-`pm_score` answers (at least `min_positive_score`),
  best first, at most `max_positives`: the documents the reasoned query should move towards;
* negatives: answers with `pm_score <= negative_max_score` (unhelpful or down-voted), at most
  `max_negatives`: optional contrast for the reward.

Questions are filtered for images (the policy only sees text) and length, de-duplicated, checked
against BRIGHT's queries (`leakage.py`), and sampled uniformly up to `max_per_site` per site with a
fixed seed, as TongSearch-QR's released sampler does (scripts/data_process/sample_stackexchange.py,
1,200 per site over the nine sites below).
"""

from __future__ import annotations

import html
import json
import logging
import random
import re
import statistics
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bright_eval.errors import BrightEvalError, require
from bright_eval.io import atomic_write_json, atomic_write_text, fingerprint_of, read_json, read_jsonl
from bright_eval.progress import progress
from bright_eval.rewriters.prompts import train_messages

from .leakage import LeakageGuard, Match

log = logging.getLogger(__name__)

HUB_DATASET = "HuggingFaceH4/stack-exchange-preferences"
# The released recipe's sites (its sampler's TARGETS), by the site names used here.
RELEASED_SITES = ("stackoverflow", "biology", "chemistry", "codereview", "cs", "earthscience", "economics", "math", "robotics")
_IMAGE = re.compile(r"<img\b|!\[[^\]]*\]\(|\.(?:png|jpe?g|gif|bmp|svg|webp)\b|imgur\.com", re.IGNORECASE)
_TAG = re.compile(r"</?(?:p|div|span|br|hr|ul|ol|li|em|strong|b|i|a|blockquote|h[1-6]|pre|code|sup|sub|table|tr|td|th)\b[^>]*>", re.IGNORECASE)


@dataclass
class PrepareConfig:
    sites: tuple[str, ...] = RELEASED_SITES
    max_per_site: int = 1200
    scan_limit: int = 50_000  # rows read per site before sampling (0: all; Stack Overflow alone has millions)
    seed: int = 2025
    min_question_chars: int = 30
    max_question_chars: int = 16_000  # released build_dataset.py --max-length
    drop_images: bool = True
    min_answer_chars: int = 30
    max_answer_chars: int = 16_000
    max_positives: int = 3
    min_positive_score: int = 1
    max_negatives: int = 3
    negative_max_score: int = 0
    think: bool = False
    guard_tasks: tuple[str, ...] = ()  # BRIGHT tasks whose queries are protected (empty: all 12)
    near_duplicate_threshold: float = 0.6

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sites"], d["guard_tasks"] = list(self.sites), list(self.guard_tasks)
        return d


def site_of(metadata, where: str) -> str:
    """'https://biology.stackexchange.com/questions/1' -> 'biology'; 'https://stackoverflow.com/...' -> 'stackoverflow'."""
    urls = metadata if isinstance(metadata, list) else [metadata]
    for url in urls:
        if isinstance(url, str) and "://" in url:
            host = (urlparse(url).hostname or "").lower()
            for suffix in (".stackexchange.com", ".com", ".net"):
                if host.endswith(suffix):
                    host = host[: -len(suffix)]
                    break
            if host.startswith("www."):
                host = host[4:]
            if host:
                return host
    raise BrightEvalError(f"{where}: field 'metadata' must be a list whose first URL names the Stack Exchange site, got {metadata!r:.120}")


def site_folder(site: str) -> str:
    """The hub dataset keeps one folder per site: data/<host>."""
    return "data/stackoverflow.com" if site == "stackoverflow" else f"data/{site}.stackexchange.com"


def clean_text(text: str) -> str:
    """Drop HTML layout tags and entities, keep their content (code blocks included)."""
    if "<" in text:
        text = _TAG.sub("", text)
    return html.unescape(text).strip()


# -- reading --------------------------------------------------------------------------------------
def iter_local(path: Path) -> Iterator[tuple[str, dict]]:
    for n, rec in enumerate(read_jsonl(path, required=("question", "answers", "metadata")), 1):
        yield f"{path}:{n}", rec


def iter_hub(site: str, revision: str | None = None) -> Iterator[tuple[str, dict]]:
    datasets = require("datasets", "core", "streaming HuggingFaceH4/stack-exchange-preferences")
    try:
        ds = datasets.load_dataset(HUB_DATASET, data_dir=site_folder(site), split="train", streaming=True, revision=revision)
        for n, rec in enumerate(ds):
            yield f"{HUB_DATASET}/{site_folder(site)}[{n}]", rec
    except BrightEvalError:
        raise
    except Exception as exc:  # offline, renamed folder, auth: one actionable line
        raise BrightEvalError(
            f"could not stream {HUB_DATASET} folder {site_folder(site)} ({type(exc).__name__}: {str(exc)[:200]}). "
            f"Offline? Pass a local JSONL in the same schema with --input FILE"
        ) from None


# -- selection ------------------------------------------------------------------------------------
def _answers(rec: dict, where: str) -> list[dict]:
    answers = rec.get("answers")
    if not isinstance(answers, list):
        raise BrightEvalError(f"{where}: field 'answers' must be a list of objects with text, pm_score, selected")
    out = []
    for i, a in enumerate(answers):
        if not isinstance(a, dict) or "text" not in a or "pm_score" not in a:
            raise BrightEvalError(f"{where}: answers[{i}] needs fields 'text' and 'pm_score' (and 'selected')")
        try:
            score = int(a["pm_score"])
        except (TypeError, ValueError):
            raise BrightEvalError(f"{where}: answers[{i}].pm_score must be an integer, got {a['pm_score']!r}") from None
        out.append({"id": str(a.get("answer_id", i)), "text": clean_text(str(a["text"])), "score": score,
                    "selected": bool(a.get("selected", False))})
    return out


def select_references(answers: list[dict], cfg: PrepareConfig) -> tuple[list[dict], list[dict]]:
    """(positives, negatives) among a question's usable answers; see the module docstring."""
    usable = [a for a in answers if cfg.min_answer_chars <= len(a["text"]) <= cfg.max_answer_chars
              and not (cfg.drop_images and _IMAGE.search(a["text"]))]
    if not usable:
        return [], []
    top = max(a["score"] for a in usable)
    pos = [a for a in usable if (a["selected"] or a["score"] == top) and a["score"] >= cfg.min_positive_score]
    pos.sort(key=lambda a: (not a["selected"], -a["score"]))
    pos = pos[: cfg.max_positives]
    taken = {id(a) for a in pos}
    neg = [a for a in usable if id(a) not in taken and not a["selected"] and a["score"] <= cfg.negative_max_score]
    neg.sort(key=lambda a: a["score"])
    return pos, neg[: cfg.max_negatives]


def chat_prompt(question: str, think: bool) -> list[dict]:
    """The released rows' prompt: an empty (or think-mode) system message and the sampler's
    "...Question: <question>" user turn (build_dataset.py:72-75, sample_stackexchange.py:29-35,80)."""
    return train_messages(question, think)


@dataclass
class Curation:
    rows: list[dict] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    eligible: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    leaks: list[dict] = field(default_factory=list)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def curate(records: Iterable[tuple[str, dict]], cfg: PrepareConfig, guard: LeakageGuard | None) -> Curation:
    """One pass over (where, record): filter, guard, and reservoir-sample up to max_per_site per site."""
    from .leakage import normalise

    rng = random.Random(cfg.seed)
    wanted = set(cfg.sites)
    reservoirs: dict[str, list[dict]] = {}
    seen_questions: set[str] = set()
    cur = Curation()
    for where, rec in records:
        site = site_of(rec.get("metadata"), where)
        if site not in wanted:
            continue
        if cfg.scan_limit and cur.scanned.get(site, 0) >= cfg.scan_limit:
            continue
        cur.scanned[site] = cur.scanned.get(site, 0) + 1
        q = rec.get("question")
        if not isinstance(q, str):
            raise BrightEvalError(f"{where}: field 'question' must be a string")
        q = clean_text(q)
        if not q:
            cur.drop("empty_question")
            continue
        if cfg.drop_images and _IMAGE.search(q):
            cur.drop("image")
            continue
        if len(q) < cfg.min_question_chars:
            cur.drop("question_too_short")
            continue
        if len(q) > cfg.max_question_chars:
            cur.drop("question_too_long")
            continue
        pos, neg = select_references(_answers(rec, where), cfg)
        if not pos:
            cur.drop("no_positive")
            continue
        key = normalise(q)
        if key in seen_questions:
            cur.drop("duplicate_question")
            continue
        seen_questions.add(key)
        match: Match | None = guard.check(q) if guard is not None else None
        if match is not None:
            cur.drop(f"leakage_{match.kind}")
            cur.leaks.append({"where": where, "site": site, "bright_query": match.query_id, "kind": match.kind,
                              "overlap": round(match.overlap, 4)})
            continue
        qid = rec.get("qid", rec.get("question_id"))
        row = {
            "id": f"{site}/{qid if qid is not None else len(seen_questions)}",
            "site": site,
            "question": q,
            "prompt": chat_prompt(q, cfg.think),
            "positives": [a["text"] for a in pos],
            "positive_scores": [a["score"] for a in pos],
            "negatives": [a["text"] for a in neg],
            "negative_scores": [a["score"] for a in neg],
            "think": cfg.think,
        }
        n = cur.eligible.get(site, 0)
        cur.eligible[site] = n + 1
        res = reservoirs.setdefault(site, [])
        if len(res) < cfg.max_per_site:
            res.append(row)
        else:  # reservoir sampling: every eligible question of the site is kept with equal probability
            j = rng.randint(0, n)
            if j < cfg.max_per_site:
                res[j] = row
    for site in cfg.sites:
        cur.rows.extend(reservoirs.get(site, []))
    rng.shuffle(cur.rows)
    return cur


# -- output ---------------------------------------------------------------------------------------
def _stats(values: list[int]) -> dict:
    if not values:
        return {"n": 0}
    s = sorted(values)
    return {"n": len(s), "mean": round(statistics.fmean(s), 1), "median": s[len(s) // 2],
            "p95": s[min(len(s) - 1, int(0.95 * len(s)))], "min": s[0], "max": s[-1]}


def card(cur: Curation, cfg: PrepareConfig, source: str, guard_size: int) -> dict:
    from bright_eval.provenance import environment

    per_site = {s: {"scanned": cur.scanned.get(s, 0), "eligible": cur.eligible.get(s, 0),
                    "kept": sum(1 for r in cur.rows if r["site"] == s)} for s in cfg.sites}
    return {
        "schema": "bright-eval.train-data/1",
        "source": source,
        "config": cfg.to_dict(),
        "config_fingerprint": fingerprint_of({"config": cfg.to_dict(), "source": source}),
        "n_questions": len(cur.rows),
        "per_site": per_site,
        "dropped": dict(sorted(cur.dropped.items())),
        "leakage": {"protected_queries": guard_size, "dropped_exact": cur.dropped.get("leakage_exact", 0),
                    "dropped_near": cur.dropped.get("leakage_near", 0), "matches": cur.leaks},
        "lengths_chars": {
            "question": _stats([len(r["question"]) for r in cur.rows]),
            "positive": _stats([len(t) for r in cur.rows for t in r["positives"]]),
            "negative": _stats([len(t) for r in cur.rows for t in r["negatives"]]),
        },
        "references_per_question": {
            "positives": _stats([len(r["positives"]) for r in cur.rows]),
            "negatives": _stats([len(r["negatives"]) for r in cur.rows]),
        },
        "environment": environment(),
    }


def card_markdown(c: dict) -> str:
    lines = [f"# Training set ({c['n_questions']} questions)", "", f"Source: `{c['source']}`", "",
             "| site | scanned | eligible | kept |", "|---|---:|---:|---:|"]
    for s, v in c["per_site"].items():
        lines.append(f"| {s} | {v['scanned']} | {v['eligible']} | {v['kept']} |")
    lk = c["leakage"]
    lines += ["", f"Leakage guard: {lk['protected_queries']} BRIGHT queries protected; dropped "
              f"{lk['dropped_exact']} exact and {lk['dropped_near']} near-duplicate questions.", "",
              "Dropped by reason: " + (", ".join(f"{k} {v}" for k, v in c["dropped"].items()) or "none"), ""]
    for name, st in c["lengths_chars"].items():
        if st["n"]:
            lines.append(f"- {name} length (chars): mean {st['mean']}, median {st['median']}, p95 {st['p95']}, max {st['max']} (n={st['n']})")
    return "\n".join(lines) + "\n"


def write_dataset(out: Path, cur: Curation, the_card: dict) -> None:
    """train.parquet (rows), card.json / README.md (the card), written atomically (card last: it marks completion)."""
    datasets = require("datasets", "core", "writing the training set")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".train.parquet.tmp"
    if cur.rows:
        datasets.Dataset.from_list(cur.rows).to_parquet(str(tmp))
    else:
        raise BrightEvalError("no training question survived the filters; see the counts above (--sites, --scan-limit, length limits)")
    tmp.replace(out / "train.parquet")
    atomic_write_text(out / "README.md", card_markdown(the_card))
    atomic_write_json(out / "card.json", the_card)


def existing_card(out: Path, fingerprint: str) -> dict | None:
    path = out / "card.json"
    if not (path.exists() and (out / "train.parquet").exists()):
        return None
    try:
        c = read_json(path)
    except BrightEvalError:
        return None
    return c if c.get("config_fingerprint") == fingerprint else None


def load_train_rows(data_dir: Path) -> list[dict]:
    """Rows of a prepared training set (`train prepare` output)."""
    path = Path(data_dir) / "train.parquet"
    if not path.exists():
        raise BrightEvalError(f"{path}: not found; build the training set with `bright-eval train prepare --out {data_dir}`")
    import pandas as pd

    df = pd.read_parquet(path)
    if "answer" in df.columns and "positives" not in df.columns:  # rows of the released builder (`--recipe released`)
        from .released import rows_for_training

        return rows_for_training(json.loads(df.to_json(orient="records")), str(path))
    for col in ("question", "prompt", "positives"):
        if col not in df.columns:
            raise BrightEvalError(f"{path}: missing column '{col}' (expected the output of `bright-eval train prepare`)")
    return json.loads(df.to_json(orient="records"))


def prepare(cfg: PrepareConfig, out: Path, bright_source, input_path: Path | None = None,
            revision: str | None = None, overwrite: bool = False) -> tuple[dict, bool]:
    """Build (or reuse) the training set in `out`. Returns (card, reused)."""
    from bright_eval.tasks import TASKS, parse_tasks

    from .leakage import bright_queries

    out = Path(out)
    source = f"local:{Path(input_path).resolve()}" if input_path else f"hub:{HUB_DATASET}" + (f"@{revision}" if revision else "")
    fp = fingerprint_of({"config": cfg.to_dict(), "source": source})
    if not overwrite:
        prev = existing_card(out, fp)
        if prev is not None:
            return prev, True
    guard_tasks = parse_tasks(list(cfg.guard_tasks)) if cfg.guard_tasks else list(TASKS)
    guard = LeakageGuard(bright_queries(bright_source, guard_tasks), threshold=cfg.near_duplicate_threshold)
    if input_path:
        records: Iterable[tuple[str, dict]] = iter_local(Path(input_path))
    else:
        records = (item for site in cfg.sites for item in iter_hub(site, revision))
    records = progress(records, description="reading questions")
    cur = curate(records, cfg, guard)
    the_card = card(cur, cfg, source, len(guard))
    write_dataset(out, cur, the_card)
    return the_card, False
