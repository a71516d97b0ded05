"""The 12 BRIGHT tasks, in the order BRIGHT's tables use."""

from __future__ import annotations

from .errors import BrightEvalError

TASKS: tuple[str, ...] = (
    "biology",
    "earth_science",
    "economics",
    "psychology",
    "robotics",
    "stackoverflow",
    "sustainable_living",
    "leetcode",
    "pony",
    "aops",
    "theoremqa_questions",
    "theoremqa_theorems",
)

# The seven Stack Exchange tasks: they ship each question's accepted answer (`gold_answer`), which
# the answer-retrieval proxy (bright_eval.proxy) is built from.
SE_TASKS: tuple[str, ...] = TASKS[:7]


def parse_tasks(spec: str | list[str] | None) -> list[str]:
    """'all', 'a,b' or a list -> validated task names in the order given."""
    if spec is None or spec == "all" or spec == ["all"]:
        return list(TASKS)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in names:
        name = raw.strip().replace("-", "_")
        if not name:
            continue
        if name not in TASKS:
            raise BrightEvalError(f"unknown task '{raw.strip()}'; valid tasks: {', '.join(TASKS)} (or 'all')")
        if name not in out:
            out.append(name)
    if not out:
        raise BrightEvalError("no task given; use --tasks with one or more of: " + ", ".join(TASKS))
    return out
