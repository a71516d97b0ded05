"""`Corpus`: the documents of one task in a fixed order, and the fingerprint that keys every cached
artefact built on them. Sources (`data.py`) and the streamed file reader (`documents_file.py`) both
build it, so it lives apart from either."""

from __future__ import annotations

from functools import cached_property

from .fields import check_unique
from .io import Fingerprint


class Corpus:
    """Documents of one task, in a fixed order; `fingerprint` keys every cached artefact built on it."""

    def __init__(self, ids: list[str], texts: list[str], origin: str = "", fingerprint: str | None = None):
        if len(ids) != len(texts):
            raise ValueError("ids and texts differ in length")
        check_unique(ids, origin or "corpus")
        self.ids = ids
        self.texts = texts
        self.origin = origin
        if fingerprint is not None:  # the source knows it more cheaply (a file hash, a dataset revision)
            self.__dict__["fingerprint"] = fingerprint

    @classmethod
    def from_dict(cls, docs: dict[str, str], origin: str = "") -> Corpus:
        return cls(list(docs), list(docs.values()), origin)

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def fingerprint(self) -> str:
        fp = Fingerprint()
        for i, t in zip(self.ids, self.texts):
            fp.update(i, t)
        return fp.hexdigest()

    @cached_property
    def id_set(self) -> frozenset[str]:
        return frozenset(self.ids)
