"""The Hugging Face side of `HubSource`: reachability, offline fallbacks, revision ids, and writing a
dataset repository in `xlangai/BRIGHT`'s layout (a mirror that `--hub-repo` can read).

BRIGHT on the hub is one parquet file per config and task, `<config>/<task>-00000-of-00001.parquet`,
with the dataset card's YAML `configs:` naming each config's splits. Configs: `examples`,
`documents`, `long_documents` and the precomputed reasoning queries `<name>_reason` (the examples'
fields with `query` replaced by the model's reasoning).
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .components import Versioned
from .errors import BrightEvalError

PROBE_TIMEOUT_S = 5.0
_SHA = re.compile(r"^[0-9a-f]{40}$")
# BRIGHT's field order in the `examples` and `*_reason` configs (dataset card's dataset_info).
EXAMPLE_FIELDS = ("query", "reasoning", "id", "excluded_ids", "gold_ids_long", "gold_ids", "gold_answer")


def offline_help(repo: str, why: str) -> str:
    """The one message every failed hub access ends in: what happened and the three ways out."""
    return (f"cannot load BRIGHT from the Hugging Face hub ({repo}): {why}. Work from a local copy instead: "
            f"`--data-dir DIR` (or BRIGHT_DATA_DIR) with a folder written by `bright-eval data export --to DIR` on a machine "
            f"that reaches the hub (or `--hub-repo` / BRIGHT_HUB_REPO naming a mirror); without BRIGHT's documents, "
            f"`bright-eval data proxy --to DIR --data-dir <folder with examples>` builds the answer-retrieval proxy")


@contextmanager
def quiet_hub() -> Iterator[None]:
    """Silence huggingface_hub's and datasets' retry warnings: on failure the user gets our one line,
    not five retries printed twice (once by their handler, once through the root logger)."""
    saved = {}
    for name in ("huggingface_hub", "datasets", "fsspec", "httpx"):
        lg = logging.getLogger(name)
        saved[name] = lg.level
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def offline_datasets() -> Iterator[None]:
    """Let `datasets` read its cache without trying the network (it would retry for ~30 s first).
    Both libraries read these flags at call time; they are restored afterwards."""
    import datasets.config as dconf
    import huggingface_hub.constants as hconst

    saved = (dconf.HF_HUB_OFFLINE, hconst.HF_HUB_OFFLINE)
    dconf.HF_HUB_OFFLINE = hconst.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        dconf.HF_HUB_OFFLINE, hconst.HF_HUB_OFFLINE = saved


def hub_offline() -> bool:
    import datasets.config as dconf
    import huggingface_hub.constants as hconst

    return bool(dconf.HF_HUB_OFFLINE or hconst.HF_HUB_OFFLINE)


def endpoint() -> str:
    import huggingface_hub.constants as hconst

    return hconst.ENDPOINT


def probe(repo: str, revision: str | None, timeout: float = PROBE_TIMEOUT_S) -> str:
    """The commit sha `revision` of dataset `repo` resolves to. Raises `ConnectionError` when the hub
    cannot be reached (one request, no retries) and `BrightEvalError` when it answers "no such repo
    or revision"."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    try:
        with quiet_hub():
            info = HfApi(endpoint=endpoint()).dataset_info(repo, revision=revision, timeout=timeout)
    except RevisionNotFoundError:
        raise BrightEvalError(f"{repo}: revision '{revision}' not found on the hub (--revision)") from None
    except RepositoryNotFoundError:
        raise BrightEvalError(f"{repo}: no such dataset on the hub (or it is private); check --hub-repo / BRIGHT_HUB_REPO") from None
    except Exception as exc:  # httpx/requests connection and timeout errors, proxies, DNS: all "unreachable"
        raise ConnectionError(f"{endpoint()} unreachable ({type(exc).__name__})") from None
    return info.sha


def datasets_cache_dir(cache_dir: str | None) -> Path:
    import datasets.config as dconf

    return Path(os.path.expanduser(str(cache_dir or dconf.HF_DATASETS_CACHE)))


def cached_revisions(repo: str, cache_dir: str | None, config: str | None = None) -> list[str]:
    """Commit shas of `repo` prepared in the datasets cache (`<ns>___<name>/<config>/<version>/<sha>`),
    newest first: what an offline run can read, and which revision that is."""
    from datasets.naming import camelcase_to_snakecase

    parts = repo.split("/")
    parts[-1] = camelcase_to_snakecase(parts[-1])
    root = datasets_cache_dir(cache_dir) / "___".join(parts)
    found = [Path(p) for p in glob.glob(str(root / (config or "*") / "*" / "*")) if Path(p).is_dir()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    out: list[str] = []
    for p in found:
        if _SHA.match(p.name) and p.name not in out:
            out.append(p.name)
    return out


def hub_cache_ref(repo: str, revision: str | None) -> str | None:
    """The sha huggingface_hub's own cache recorded for `revision` (default main), if any."""
    import huggingface_hub.constants as hconst

    if revision and _SHA.match(revision):
        return revision
    ref = Path(hconst.HF_HUB_CACHE) / f"datasets--{repo.replace('/', '--')}" / "refs" / (revision or "main")
    try:
        sha = ref.read_text().strip()
    except OSError:
        return None
    return sha if _SHA.match(sha) else None


def local_revision(path: Path) -> str:
    """A local dataset repository's identity: its git commit when it is a git checkout (a `git clone`
    of the hub repo), the snapshot sha when it is a huggingface_hub cache snapshot, else
    `folder:<hash>` of every file's relative path, size and first and last MiB (cheap on GB-sized
    parquet, and changes whenever a file is replaced)."""
    path = path.resolve()
    if (path / ".git").exists():
        res = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
        if res.returncode == 0 and _SHA.match(res.stdout.strip()):
            return res.stdout.strip()
    if path.parent.name == "snapshots" and _SHA.match(path.name):
        return path.name
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and ".git" not in p.relative_to(path).parts):
        size = f.stat().st_size
        h.update(f"{f.relative_to(path).as_posix()}\0{size}\0".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return "folder:" + h.hexdigest()[:16]


# -- writing a repository in BRIGHT's layout -------------------------------------------------------
def _parquet(path: Path, columns: dict[str, list]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def split_file(config: str, task: str) -> str:
    return f"{config}/{task}-00000-of-00001.parquet"


def _example_columns(records: list[dict]) -> dict[str, list]:
    return {f: [r[f] for r in records] for f in EXAMPLE_FIELDS}


def write_hub_repo(source, out: Path, tasks: Iterable[str], reasoning: Iterable[str] = (),
                   long_documents: bool = True) -> dict[str, list[str]]:
    """Write `source`'s data as a dataset repository in BRIGHT's layout; returns {config: [tasks]}.
    Documents, long documents or a reasoning set the source lacks for a task are left out of that
    config (the caller reports what was written)."""
    configs: dict[str, list[str]] = {}
    out = Path(out)
    for task in tasks:
        exs = source.examples(task)
        records = [e.to_record() for e in exs]
        _parquet(out / split_file("examples", task), _example_columns(records))
        configs.setdefault("examples", []).append(task)
        kinds = [("documents", False)] + ([("long_documents", True)] if long_documents else [])
        for config, long in kinds:
            try:
                corpus = source.documents(task, long=long)
            except BrightEvalError:
                continue  # a task without (long) documents: its examples still load
            _parquet(out / split_file(config, task), {"id": list(corpus.ids), "content": list(corpus.texts)})
            configs.setdefault(config, []).append(task)
        for name in reasoning:
            try:
                texts = source.reasoning(task, name)
            except BrightEvalError:
                continue
            rows = [{**r, "query": texts[r["id"]]} for r in records if r["id"] in texts]
            _parquet(out / split_file(f"{name}_reason", task), _example_columns(rows))
            configs.setdefault(f"{name}_reason", []).append(task)
    copy_proxy_note(source, out)
    origin = source.description
    rev = source.revision_id if isinstance(source, Versioned) else None
    write_card(out, configs, f"{origin} (revision {rev})" if rev else origin)
    return configs


def copy_proxy_note(source, out: Path) -> None:
    """A copy of the answer-retrieval proxy keeps its PROXY.md, so it is named as the proxy wherever it is read."""
    root = getattr(source, "root", None) or (Path(source.path) if getattr(source, "local", False) else None)
    if root is not None and (Path(root) / "PROXY.md").is_file():
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "PROXY.md").write_bytes((Path(root) / "PROXY.md").read_bytes())


def write_card(out: Path, configs: dict[str, list[str]], origin: str) -> None:
    """The dataset card: YAML front matter whose `configs:` maps each split to its parquet file
    (the datasets library's documented manual configuration), then a short note."""
    import yaml

    meta = {
        "license": "cc-by-4.0",
        "configs": [{"config_name": c, "data_files": [{"split": t, "path": split_file(c, t)} for t in ts]}
                    for c, ts in configs.items()],
    }
    body = (f"# BRIGHT (mirror)\n\nWritten by `bright-eval data export --layout hub` from {origin or 'a BRIGHT source'}, "
            "in the layout of the Hugging Face dataset `xlangai/BRIGHT` (CC-BY-4.0; cite arXiv:2407.12883).\n")
    (out / "README.md").write_text("---\n" + yaml.safe_dump(meta, sort_keys=False) + "---\n\n" + body, encoding="utf-8")
