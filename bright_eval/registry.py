"""One registry per kind (rewriters, retrievers): a name or a `prefix:argument` resolves to a
factory, so adding a model is one entry, not a new code path."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from .errors import BrightEvalError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    prefix: bool = False


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str, prefix: bool = False):
        """Decorator. A `prefix` entry named 'hf' answers every 'hf:<argument>'."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._entries[name] = Entry(name, factory, description, prefix)
            return factory

        return deco

    def entries(self) -> list[Entry[T]]:
        return list(self._entries.values())

    def names(self) -> list[str]:
        return [e.name + (":<arg>" if e.prefix else "") for e in self._entries.values()]

    def lookup(self, spec: str) -> tuple[Entry[T], str | None]:
        spec = spec.strip()
        if spec in self._entries and not self._entries[spec].prefix:
            return self._entries[spec], None
        head, sep, arg = spec.partition(":")
        if sep and head in self._entries and self._entries[head].prefix:
            if not arg:
                raise BrightEvalError(f"{self.kind} '{spec}': '{head}:' needs an argument after the colon")
            return self._entries[head], arg
        close = difflib.get_close_matches(spec, list(self._entries), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise BrightEvalError(f"unknown {self.kind} '{spec}'; known: {', '.join(self.names())}.{hint}")

    def create(self, spec: str, **kwargs) -> T:
        entry, arg = self.lookup(spec)
        return entry.factory(arg, **kwargs) if entry.prefix else entry.factory(**kwargs)
