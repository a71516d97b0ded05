"""`bright-eval export`: results records in other projects' formats (MTEB's results repository,
QueryGym's reproducibility runs). Records are read with `load_results` and never recomputed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from .errors import BrightEvalError
from .record import ResultRecord
from .results import load_results
from .tasks import TASKS

Format = Literal["mteb", "querygym"]
FORMATS: tuple[str, ...] = get_args(Format)


def select(results_dir: Path, rewriters: list[str] | None = None, retrievers: list[str] | None = None,
           tasks: list[str] | None = None, settings: str | None = None) -> list[ResultRecord]:
    """The records under `results_dir` that every given filter allows (a filter left out allows all)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise BrightEvalError(f"--results-dir {root}: {'is a file, not' if root.exists() else 'there is no'} folder; "
                              f"expected the folder `run`/`matrix` wrote")
    records = load_results(root)
    if not records:
        raise BrightEvalError(f"--results-dir {root}: no results files (bright-eval.result JSON) in it; run `bright-eval run` first")
    for name in tasks or ():
        if name not in TASKS:
            raise BrightEvalError(f"--task: '{name}' is not a BRIGHT task; expected one of {', '.join(TASKS)}")
    want = settings.replace(" ", "") if settings is not None else None
    picked = [r for r in records
              if (not rewriters or r.rewriter in rewriters) and (not retrievers or r.retriever in retrievers)
              and (not tasks or r.task in tasks) and (want is None or r.tag == want)]
    if not picked:
        systems = sorted({f"{r.rewriter} + {r.retriever}" + (f" [{r.tag}]" if r.tag else "") for r in records})
        asked = ", ".join(f"{opt} {','.join(v)}" for opt, v in (("--rewriter", rewriters), ("--retriever", retrievers), ("--task", tasks)) if v)
        if want is not None:
            asked = f"{asked}, --settings '{want}'".lstrip(", ")
        raise BrightEvalError(f"--results-dir {root}: no result matches {asked}; it holds {'; '.join(systems[:8])}"
                              f"{' ...' if len(systems) > 8 else ''}")
    return picked


def export(fmt: str, records: list[ResultRecord], out: Path, model_name: str | None = None,
           model_revision: str | None = None) -> list[Path]:
    if fmt == "mteb":
        from . import mteb_format

        return mteb_format.write(records, out, model_name, model_revision)
    if fmt == "querygym":
        if model_name or model_revision:
            raise BrightEvalError("--model-name/--model-revision are for --format mteb; QueryGym names a run by its method and LLM")
        from . import querygym_format

        return querygym_format.write(records, out)
    raise BrightEvalError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'")
