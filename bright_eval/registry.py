"""One registry per kind (rewriters, retrievers, rerankers): a name or a `prefix:argument` resolves to
a factory, so adding a model is one entry, not a new code path.

A factory declares its options as typed keyword parameters (bright_eval/option_types.py). `create`
validates user options against those declarations with pydantic before any work -- unknown keys get
a did-you-mean, wrong types and out-of-range values one line naming component, option, value and
what is allowed -- and names the component after the spec plus every option that changes its
output, in one canonical form: `bm25(k1=1)` and `bm25(k1=1.0)` are one system, one folder.
Options listed as `operational` (batch sizes, devices, retries) change speed, not numbers, and stay
out of the name.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import logging
import math
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .errors import BrightEvalError

log = logging.getLogger(__name__)
T = TypeVar("T")
# Passed by the orchestrator to every factory that accepts them; never user options.
CONTEXT = ("cache", "source")
REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Option:
    """One declared option: its type (with constraints) and default (REQUIRED if none)."""

    name: str
    hint: Any
    default: Any
    operational: bool = False

    def describe(self) -> str:
        return describe(self.hint)

    def shown(self) -> str:
        """`k1: number >= 0 = 0.9`, as `bright-eval retrievers` and docs/component-options.md show it."""
        default = "" if self.default is REQUIRED else f" = {_fmt(self.default)}"
        return f"{self.name}: {self.describe()}{default}"


def _resolve(annotation: Any, globalns: dict) -> Any:
    if isinstance(annotation, str):  # `from __future__ import annotations`: evaluate in the factory's module
        try:
            return eval(annotation, globalns, vars(typing))
        except Exception:
            return Any
    return Any if annotation is inspect.Parameter.empty else annotation


def _bounds(meta: list) -> str:
    out = []
    for m in meta:
        for attr, sym in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {v:g}")
    return " and ".join(out)


def describe(hint: Any) -> str:
    """A type in words: 'number >= 0', 'integer >= 1 or null', 'one of: replace, original+rewrite'."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        base, bounds = describe(args[0]), _bounds(list(args[1:]))
        return f"{base} {bounds}".strip()
    if origin is typing.Union or type(hint).__name__ == "UnionType":
        parts = [describe(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if origin in (list, tuple):
        return f"a list of {describe(args[0]) if args else 'value'}s"
    return {float: "number", int: "integer", bool: "true or false", str: "text", type(None): "null"}.get(hint, "any value")


def _fmt(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    description: str
    prefix: bool = False
    operational: frozenset[str] = field(default_factory=frozenset)
    kind: str = ""
    package: str = ""  # the plugin package an entry came from; "" for bright-eval's own

    def options(self) -> dict[str, Option]:
        """Every option the factory declares, with its type and default."""
        return dict(self._options())

    @functools.cache  # noqa: B019 -- entries live as long as their registry
    def _options(self) -> tuple[tuple[str, Option], ...]:
        sig = inspect.signature(self.factory)
        globalns = getattr(self.factory, "__globals__", {})
        out = []
        for i, p in enumerate(sig.parameters.values()):
            if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in CONTEXT or (self.prefix and i == 0):
                continue
            out.append((p.name, Option(p.name, _resolve(p.annotation, globalns), p.default, p.name in self.operational)))
        return tuple(out)

    @functools.cache  # noqa: B019
    def _model(self):
        from pydantic import ConfigDict, create_model

        fields = {name: (opt.hint, ... if opt.default is REQUIRED else opt.default) for name, opt in self._options()}
        # strict: 'abc', true or 1.5 is never coerced into a number; finite: NaN and infinity are refused
        config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid", arbitrary_types_allowed=True)
        model_name = re.sub(r"\W", "_", f"{self.kind}_{self.name}_options")
        return create_model(model_name, __config__=config, **fields)

    def validate(self, spec: str, args: dict[str, Any]) -> dict[str, Any]:
        """`args` checked against the declarations and put in canonical form (1 -> 1.0 for a number)."""
        from pydantic import ValidationError

        known = self.options()
        for key in args:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=2)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise BrightEvalError(f"{self.kind} '{spec}' has no option '{key}'; its options: "
                                      f"{', '.join(sorted(known)) or 'none'}.{hint}")
        required = [k for k, o in known.items() if o.default is REQUIRED and k not in args]
        if required:
            raise BrightEvalError(f"{self.kind} '{spec}' needs option(s) {', '.join(required)}")
        args = {k: _typed(v, known[k].hint) for k, v in args.items()}
        try:
            model = self._model().model_validate(args)
        except ValidationError as exc:
            lines = []
            for e in exc.errors():
                key, inner = str(e["loc"][0]), [x for x in e["loc"][1:] if isinstance(x, int)]
                item = f"item {inner[0]}: " if inner else ""  # which element of a list option
                lines.append(f"{self.kind} '{spec}': option {key}={_shown_value(args.get(key))} is not allowed "
                             f"({item}{e['msg'][0].lower() + e['msg'][1:]}); expected {known[key].describe()}")
            raise BrightEvalError("; ".join(dict.fromkeys(lines))) from None
        return {k: getattr(model, k) for k in args}


def _shown_value(value: Any) -> str:
    if isinstance(value, CliText):
        return str(value)  # as typed
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return _fmt(value) if not isinstance(value, str) else repr(value)


class CliText(str):
    """A value typed on the command line (`k=v` or `name(k=v)`): text until its declaration types it, so
    `revision=2024` stays the text '2024' for a text option and `k1=1.2` becomes a number for a number."""


def _text_kinds(hint: Any) -> tuple[bool, set[str]]:
    """(whether any text is allowed, the text choices a Literal allows) anywhere in a declared type."""
    if hint is str or hint is Any:
        return True, set()
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return False, {a for a in args if isinstance(a, str)}
    if origin is typing.Annotated:
        return _text_kinds(args[0])
    if origin in (typing.Union, type(int | None)):
        kinds = [_text_kinds(a) for a in args]
        return any(k[0] for k in kinds), set().union(*(k[1] for k in kinds))
    return False, set()


def _typed(value: Any, hint: Any) -> Any:
    """A command-line value as its declaration reads it: a choice or free text stays the text typed
    (null aside), anything else is parsed as a JSON literal (numbers, true/false, null, lists)."""
    if not isinstance(value, CliText):
        return value
    text = str(value)
    any_text, choices = _text_kinds(hint)
    if text in choices:
        return text
    parsed = parse_value(text)
    return text if any_text and parsed is not None else parsed


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
    (so a value may hold commas, e.g. a list). A key given twice is an error, not a silent last-wins."""
    out: dict[str, Any] = {}
    if not text:
        return out
    last = None
    raw: dict[str, str] = {}
    for piece in text.split(","):
        key, eq, value = piece.partition("=")
        if eq and key.strip().isidentifier():
            last = key.strip()
            if last in raw:
                raise BrightEvalError(f"{option}: option '{last}' is given twice ({raw[last].strip()!r} and {value.strip()!r})")
            raw[last] = value
        elif last is not None:
            raw[last] += "," + piece
        else:
            raise BrightEvalError(f"{option}: expected key=value pairs separated by commas, got '{piece}'")
    for k, v in raw.items():
        out[k] = CliText(v.strip())
    return out


def merge_args(who: str, *sources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Options from several places (inline `name(k=v)`, --*-args, flags, an experiment file's table)
    merged into one dict; the same option given differently in two places is an error naming both."""
    out: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for where, args in sources:
        for key, value in (args or {}).items():
            if key in out and not _same(out[key], value):
                raise BrightEvalError(f"{who}: option '{key}' is given twice with different values: "
                                      f"{origin[key]} says {_shown_value(out[key])}, {where} says {_shown_value(value)}")
            out.setdefault(key, value)
            origin.setdefault(key, where)
    return out


def _same(a: Any, b: Any) -> bool:
    a, b = (parse_value(v) if isinstance(v, CliText) else v for v in (a, b))
    return a == b and isinstance(a, bool) == isinstance(b, bool)


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


class Registry(Generic[T]):
    """`kind` names it in messages; `protocol` is what a component object passed in directly must
    implement; `group` is the entry-point group through which installed packages add components."""

    def __init__(self, kind: str, protocol: type | None = None, group: str | None = None):
        self.kind, self.protocol, self.group = kind, protocol, group
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_loaded = group is None

    def register(self, name: str, description: str, prefix: bool = False, operational: tuple[str, ...] = (), package: str = ""):
        """Decorator. A `prefix` entry named 'hf' answers every 'hf:<argument>'. The factory's typed
        keyword parameters are the entry's options."""

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._entries[name] = Entry(name, factory, description, prefix, frozenset(operational), self.kind, package)
            return factory

        return deco

    def _load_plugins(self) -> None:
        """Components of installed packages (entry points of `group`): the entry point's name is the
        component's name (a trailing ':' makes it a prefix entry), its object the typed factory, whose
        docstring's first line describes it and whose `operational` attribute lists speed-only options.
        A plugin that fails to load is one warning naming it; it never breaks unrelated commands."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=self.group):
            package = ep.dist.name if ep.dist is not None else "an unknown package"
            name, prefix = ep.name.rstrip(":"), ep.name.endswith(":")
            try:
                if name in self._entries:
                    raise ValueError(f"the name is taken by {self._entries[name].package or 'bright-eval'}'s {self.kind}")
                factory = ep.load()
                if not callable(factory):
                    raise TypeError(f"{ep.value} is not a factory function")
                doc = (inspect.getdoc(factory) or f"{self.kind} from {package}").splitlines()[0]
                entry = Entry(name, factory, doc, prefix, frozenset(getattr(factory, "operational", ())), self.kind, package)
                entry._model()  # a declaration pydantic cannot use fails here, not in the middle of a run
            except Exception as exc:  # a third party's bug must not take the CLI down
                log.warning("%s plugin '%s' from %s (%s) was not loaded: %s: %s", self.kind, ep.name, package, ep.value,
                            type(exc).__name__, exc)
                continue
            self._entries[name] = entry

    def entries(self) -> list[Entry[T]]:
        self._load_plugins()
        return list(self._entries.values())

    def names(self) -> list[str]:
        return [e.name + (":<arg>" if e.prefix else "") for e in self.entries()]

    def lookup(self, spec: str) -> tuple[Entry[T], str | None]:
        self._load_plugins()
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
        """The validated options that differ from the factory's defaults (a default spelt out is the
        same system, with the same name)."""
        entry, _ = self.lookup(spec)
        known = entry.options()
        return {k: v for k, v in entry.validate(spec.strip(), args).items()
                if known[k].default is REQUIRED or not _same(known[k].default, v)}

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
        args = self.check_args(spec, merge_args(f"{self.kind} '{spec}'", ("its options", args or {}), ("keyword options", kwargs)))
        accepted = inspect.signature(entry.factory).parameters
        ctx = {k: v for k, v in context.items() if k in accepted}
        obj = entry.factory(arg, **ctx, **args) if entry.prefix else entry.factory(**ctx, **args)
        obj.name = self.display_name(spec, args)
        return obj
