"""One registry per kind (rewriters, retrievers): a name or a `prefix:argument` resolves to a
factory, so adding a model is one entry, not a new code path.

A factory declares its options as keyword parameters; `create` checks user options against them
(with a did-you-mean) and names the component after the spec plus every option that changes its
output, so `bm25` and `bm25(k1=1.2)` never share a results folder. Options listed as `operational`
(batch sizes, devices, retries) change speed, not numbers, and stay out of the name.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import BrightEvalError

T = TypeVar("T")
# Passed by the orchestrator to every factory that accepts them; never user options.
CONTEXT = ("cache", "source")


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    prefix: bool = False
    operational: frozenset[str] = field(default_factory=frozenset)
    params: dict[str, Any] | None = None  # option -> default; None: read from the factory's signature

    def options(self) -> dict[str, Any]:
        """Every option the factory accepts, with its default (inspect.Parameter.empty if required)."""
        if self.params is not None:
            return dict(self.params)
        sig = inspect.signature(self.factory)
        out = {}
        for i, p in enumerate(sig.parameters.values()):
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in CONTEXT or (self.prefix and i == 0):
                continue
            out[p.name] = p.default
        return out


def parse_value(raw: str) -> Any:
    """`k=v` values from the command line: JSON literals (numbers, true/false/null, lists), else text."""
    low = raw.strip()
    if low.lower() in ("true", "false", "null", "none"):
        return {"true": True, "false": False}.get(low.lower())
    try:
        return json.loads(low)
    except ValueError:
        return low


def parse_args(text: str | None, option: str) -> dict[str, Any]:
    """'k1=1.2,b=0.75' -> {'k1': 1.2, 'b': 0.75}. A piece without '=' continues the previous value
    (so a value may hold commas, e.g. a list)."""
    out: dict[str, Any] = {}
    if not text:
        return out
    last = None
    raw: dict[str, str] = {}
    for piece in text.split(","):
        key, eq, value = piece.partition("=")
        if eq and key.strip().isidentifier():
            last = key.strip()
            raw[last] = value
        elif last is not None:
            raw[last] += "," + piece
        else:
            raise BrightEvalError(f"{option}: expected key=value pairs separated by commas, got '{piece}'")
    for k, v in raw.items():
        out[k] = parse_value(v)
    return out


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses: 'a,fuse:rrf(b,c)' -> ['a', 'fuse:rrf(b,c)']."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise BrightEvalError(f"unbalanced ')' in '{text}'")
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if depth:
        raise BrightEvalError(f"unbalanced '(' in '{text}'")
    parts.append("".join(cur).strip())
    return parts


_OPTION = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


def split_options(text: str) -> tuple[str, dict[str, Any]]:
    """'bm25(k1=1.2,b=0.75)' -> ('bm25', {'k1': 1.2, 'b': 0.75}), the form components are named by.
    A trailing '(...)' that does not start with key=value belongs to the name: 'fuse:rrf(bm25,e5)'."""
    text = text.strip()
    if not text.endswith(")"):
        return text, {}
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += (text[i] == ")") - (text[i] == "(")
        if depth == 0:
            break
    head, inner = text[:i].strip(), text[i + 1:-1]
    if not head or depth or not _OPTION.match(inner):
        return text, {}
    return head, parse_args(inner, text)


def _fmt(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, description: str, prefix: bool = False, operational: tuple[str, ...] = (),
                 params: dict[str, Any] | None = None):
        """Decorator. A `prefix` entry named 'hf' answers every 'hf:<argument>'."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._entries[name] = Entry(name, factory, description, prefix, frozenset(operational), params)
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

    def check_args(self, spec: str, args: dict[str, Any]) -> dict[str, Any]:
        """The options that differ from the factory's defaults, after checking every key is known."""
        entry, _ = self.lookup(spec)
        known = entry.options()
        out = {}
        for key, value in args.items():
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=2)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise BrightEvalError(f"{self.kind} '{spec}' has no option '{key}'; its options: "
                                      f"{', '.join(sorted(known)) or 'none'}.{hint}")
            default = known[key]
            if default is not inspect.Parameter.empty and default == value and isinstance(default, bool) == isinstance(value, bool):
                continue  # the default, spelt out: same system, same name
            out[key] = value
        return out

    def display_name(self, spec: str, args: dict[str, Any]) -> str:
        """`spec`, plus `(k=v,...)` for every option that changes the output."""
        entry, _ = self.lookup(spec)
        ident = {k: v for k, v in self.check_args(spec, args).items() if k not in entry.operational}
        if not ident:
            return spec.strip()
        return f"{spec.strip()}(" + ",".join(f"{k}={_fmt(ident[k])}" for k in sorted(ident)) + ")"

    def create(self, spec: str, args: dict[str, Any] | None = None, **kwargs) -> T:
        """The component for `spec` with user options `args` (keyword options are merged in); the
        context (cache, source) goes to factories that take it. The component's `name` is its
        display name."""
        entry, arg = self.lookup(spec)
        context = {k: kwargs.pop(k) for k in CONTEXT if k in kwargs}
        args = self.check_args(spec, {**(args or {}), **kwargs})
        accepted = inspect.signature(entry.factory).parameters
        ctx = {k: v for k, v in context.items() if k in accepted}
        obj = entry.factory(arg, **ctx, **args) if entry.prefix else entry.factory(**ctx, **args)
        obj.name = self.display_name(spec, args)
        return obj
