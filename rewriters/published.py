"""`tsqr-1.5b@published`, `tsqr-7b@published`: the rewrites TongSearch-QR's authors released for all
1,384 BRIGHT queries, so the BM25 + TongSearch-QR rows can be reproduced without a GPU.

The files are `data_evaluation/TongSearch-QR-{1.5B,7B}_reasoned_BRIGHT_queries.json` of
bigai-nlco/TongSearch-QR (MIT), a JSON map {original query text: rewrite} written by
scripts/evaluation/question_rewriting.py:42-43 and read back by query text in
scripts/evaluation/retrievers.py:241-244. They are pinned to the commit below, fetched once over plain
HTTPS from raw.githubusercontent.com, checked against the sha256 of the pinned bytes and kept in the
cache. When the download is impossible (offline), the data source's
`<task>/reasoning/TongSearch-QR-*.jsonl` is used instead, with a warning, and the spec says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import urllib.error
import urllib.request
from pathlib import Path

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError
from bright_eval.io import atomic_write_bytes

from . import Query, RewriteStats
from .compose import check_mode, compose_each

log = logging.getLogger(__name__)

REPO = "bigai-nlco/TongSearch-QR"
COMMIT = "1cdf6a48b1d2c3d088d3de2a762b65b23ef23b00"  # HEAD of main, 2025-09-15; the files were added in 6fc2a634
BASE_URL = "https://raw.githubusercontent.com"
# model -> (reasoning set name, path in the repository, sha256, bytes); hashes of the bytes at COMMIT.
FILES = {
    "tsqr-1.5b": ("TongSearch-QR-1.5B", "data_evaluation/TongSearch-QR-1.5B_reasoned_BRIGHT_queries.json",
                  "74a767ee74117578e5c57fdef4eb5147d5d2dbe18b0e494d063812ebcab8df7d", 4034872),
    "tsqr-7b": ("TongSearch-QR-7B", "data_evaluation/TongSearch-QR-7B_reasoned_BRIGHT_queries.json",
                "5f55b35f8d50266faadf49abd8c6aa719f325a1486405bd435c883cf1a439302", 3997427),
}
TIMEOUT = 30.0


def url_of(model: str) -> str:
    return f"{BASE_URL}/{REPO}/{COMMIT}/{FILES[model][1]}"


def _fetch(url: str, sha256: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 - a fixed https URL
        data = resp.read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise BrightEvalError(f"{url}: downloaded {len(data)} bytes with sha256 {got}, expected {sha256}; not used")
    return data


class PublishedRewrites:
    def __init__(self, model: str, cache: ArtifactCache | None = None, source=None, compose_mode: str = "replace"):
        self.model = model
        self.set_name, self.path, self.sha256, self.size = FILES[model]
        self.root = (cache or ArtifactCache()).root
        self.source = source
        self.compose_mode = check_mode(compose_mode)
        self.name = f"{model}@published"
        self.stats = RewriteStats()
        self._by_text: dict[str, str] | None = None
        self._fallback: dict[str, dict[str, str]] | None = None  # task -> id -> rewrite
        self._fallback_reason = ""

    @property
    def cached_file(self) -> Path:
        return self.root / "published" / f"{self.sha256}.json"

    def _resolve(self) -> None:
        """Load the pinned file (cache, else download), or switch to the data source's reasoning folder."""
        if self._by_text is not None or self._fallback is not None:
            return
        path = self.cached_file
        if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == self.sha256:
            self._by_text = json.loads(path.read_bytes())
            return
        url = url_of(self.model)
        try:
            data = _fetch(url, self.sha256)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            self._fallback_reason = f"download of {url} failed ({reason})"
            if self.source is None:
                raise BrightEvalError(f"{self.name}: {self._fallback_reason} and there is no data source to fall back on") from None
            log.warning("%s: %s; using %s reasoning/%s.jsonl instead", self.name, self._fallback_reason,
                        self.source.description, self.set_name)
            self._fallback = {}
            return
        atomic_write_bytes(path, data)
        self._by_text = json.loads(data)

    def _lookup(self, q: Query) -> str | None:
        if self._by_text is not None:
            return self._by_text.get(q.text)
        if q.task not in self._fallback:
            try:
                self._fallback[q.task] = self.source.reasoning(q.task, self.set_name)
            except BrightEvalError as exc:
                raise BrightEvalError(f"{self.name}: {self._fallback_reason}, and the fallback failed: {exc}. "
                                      f"Download {url_of(self.model)} on a connected machine into {self.cached_file}") from None
        return self._fallback[q.task].get(q.id)

    def rewrite(self, queries: list[Query]) -> list[str]:
        self._resolve()
        texts = look_up_all(self.name, queries, self._lookup, "no released rewrite")
        self.stats.from_cache += len(queries)
        return compose_each(self.name, queries, texts, self.compose_mode, self.stats)

    def is_cached(self, queries: list[Query]) -> bool:
        return True  # nothing to generate

    def spec(self) -> dict:
        self._resolve()
        base = {"name": self.name, "kind": "published", "compose": self.compose_mode}
        if self._by_text is not None:
            return {**base, "url": url_of(self.model), "commit": COMMIT, "sha256": self.sha256}
        # Not the verified file: another identity, so results never mix with the verified ones.
        return {**base, "fallback": f"{self.source.description} reasoning/{self.set_name}"}


def look_up_all(name: str, queries: list[Query], lookup, what: str) -> list[str]:
    """Each query's stored text (`lookup(query)`, None when absent); queries without one are one error
    naming the first five, never an empty text searched in silence."""
    texts = [lookup(q) for q in queries]
    missing = [f"{q.task}/{q.id}" for q, t in zip(queries, texts) if t is None]
    if missing:
        raise BrightEvalError(f"{name}: {what} for {len(missing)} of {len(queries)} queries "
                              f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''})")
    return texts
