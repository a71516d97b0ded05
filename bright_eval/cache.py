"""Content-addressed cache for expensive artefacts (indexes, embeddings, rewrites).

Keys are hashes of what determines the artefact (corpus fingerprint + analyzer + params, model +
prompt + query, ...), so a changed input can never be served a stale artefact. Counters record hits
and builds per kind so that tests and `matrix --dry-run` can tell what a run reused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import storage_error
from .io import fingerprint_of


def default_cache_root() -> Path:
    return Path(os.environ.get("BRIGHT_EVAL_CACHE") or Path.home() / ".cache" / "bright-eval")


class ArtifactCache:
    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root else default_cache_root()
        self.hits: Counter[str] = Counter()
        self.builds: Counter[str] = Counter()

    def key(self, **parts) -> str:
        return fingerprint_of(parts)

    def dir_for(self, kind: str, key: str) -> Path:
        return self.root / kind / key

    def has(self, kind: str, key: str) -> bool:
        return (self.dir_for(kind, key) / ".complete").exists()

    @contextmanager
    def build(self, kind: str, key: str) -> Iterator[Path]:
        """Yield a temporary folder to fill; it becomes the artefact only if the block succeeds,
        so an interrupted build never leaves a half-written artefact behind."""
        final = self.dir_for(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key}."))
        try:
            yield tmp
            (tmp / ".complete").touch()
            if final.exists():  # another process finished first; its copy is equivalent
                shutil.rmtree(tmp)
            else:
                os.replace(tmp, final)
            self.builds[kind] += 1
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            clear = storage_error(exc, final)  # a full disk names the cache folder, not a numpy internal
            if clear is exc:
                raise
            raise clear from None

    def hit(self, kind: str) -> None:
        self.hits[kind] += 1

    def stats(self) -> dict[str, dict[str, int]]:
        kinds = set(self.hits) | set(self.builds)
        return {k: {"hits": self.hits[k], "builds": self.builds[k]} for k in sorted(kinds)}
