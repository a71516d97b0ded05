"""What each piece of Ray work asks the cluster for. No ray import: configs are checked without it.

Kinds: `llm` (a local LLM rewriter replica), `dense` (encoding documents, and the cells of a dense
retriever, which encode queries), `cpu` (BM25, scoring, everything else). An entry named after a
component (its display name, e.g. 'all-minilm-l6-v2' or 'smollm2-135m-instruct') overrides its kind.
`replicas` (llm) and `workers` (dense encoding) cap how many run at once; by default as many as the
cluster's resources allow.
"""

from __future__ import annotations

from typing import Any

from ..errors import BrightEvalError

DEFAULTS: dict[str, dict[str, Any]] = {
    "llm": {"num_gpus": 1},
    "dense": {"num_gpus": 1},
    "cpu": {"num_cpus": 1},
}
RAY_KEYS = ("num_cpus", "num_gpus", "memory", "resources")
OWN_KEYS = ("replicas", "workers")


def check(table: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """A `resources` table from an experiment file or the API, checked key by key."""
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise BrightEvalError(f"{where}: 'resources' must be a table of tables ([matrix.resources.<kind or component>])")
    for name, req in table.items():
        for key, value in req.items():
            if key not in RAY_KEYS + OWN_KEYS:
                raise BrightEvalError(f"{where}: resources.{name}.{key} is not one of {', '.join(RAY_KEYS + OWN_KEYS)}")
            if key == "resources":
                if not isinstance(value, dict):
                    raise BrightEvalError(f"{where}: resources.{name}.resources must be a table of custom resource amounts")
            elif not isinstance(value, (int, float)) or value < 0 or (key in OWN_KEYS and (value < 1 or value != int(value))):
                want = "positive integer" if key in OWN_KEYS else "number >= 0"
                raise BrightEvalError(f"{where}: resources.{name}.{key} must be a {want}, got {value!r}")
    return table


def request(table: dict[str, dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    """The Ray options for one piece of work: the component's entry, else its kind's, else the default."""
    for key in (name, kind):
        if key is not None and key in table:
            return dict(table[key])
    return dict(DEFAULTS[kind])


def ray_options(req: dict[str, Any]) -> dict[str, Any]:
    opts = {k: v for k, v in req.items() if k in RAY_KEYS}
    opts.setdefault("num_cpus", 0 if opts.get("num_gpus") else 1)  # a GPU task needs no reserved core of its own
    return opts


def fits(req: dict[str, Any], node: dict[str, float]) -> bool:
    """Whether one node's total resources can ever hold this request (else Ray would wait forever)."""
    need = {"CPU": req.get("num_cpus", 0), "GPU": req.get("num_gpus", 0), "memory": req.get("memory", 0), **req.get("resources", {})}
    return all(node.get(k, 0) >= v for k, v in need.items() if v)


def cpu_fallback(req: dict[str, Any]) -> dict[str, Any]:
    """A GPU default on a cluster without GPUs: one core instead (laptops, CI)."""
    out = {k: v for k, v in req.items() if k != "num_gpus"}
    out["num_cpus"] = max(1, out.get("num_cpus", 0) or 1)
    return out
