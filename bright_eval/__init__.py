"""bright-eval: which query rewriter, with which retriever, wins on BRIGHT.

The public Python API is re-exported here lazily: `import bright_eval` stays as cheap as the CLI's
`--help` needs, and each name loads its module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it (relative to this package)
_EXPORTS = {
    "run": "api", "matrix": "api", "evaluate": "api", "load_results": "api", "leaderboard": "api", "report": "api",
    "Results": "api",
    "ResultRecord": "record",
    "Query": "components", "Rewriter": "components", "Retriever": "components", "Reranker": "components",
    "RewriteStats": "components", "TaskBound": "components", "IndexCache": "components", "RewriteCache": "components",
    "Releasable": "components", "HasStats": "components",
    "BrightEvalError": "errors",
    "Registry": "registry",
    "LocalSource": "data", "HubSource": "data", "get_source": "data", "Example": "data", "Corpus": "data",
    "ArtifactCache": "cache",
    "TASKS": "tasks",
    "RETRIEVERS": "retrievers", "REWRITERS": "rewriters", "RERANKERS": "rerankers",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bright_eval' has no attribute '{name}'")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
