"""`--executor ray`: the plan's shared steps as Ray work, with the local executor's dependencies.

Per (retriever, corpus) one index build (dense: document shards encoded by parallel tasks into the
cache's partial folder, then merged into the same embedding matrix the local path writes); per
(rewriter, task) one rewrite (local LLMs on a pool of model replicas, see ray_rewrite.py; others on
the driver, where they cost nothing or only wait on an API); then one task per (rewriter, retriever,
task) that searches once and writes every cell of that first-stage run through the local executor's
`_compute`. Reused and blocked cells never leave the driver.

Faults: tasks are retried by Ray when their worker dies (`max_retries`, bounded); a retried cell
whose results file this run already wrote is not written again. Results files are atomic, so a rerun
after the driver dies reuses every finished cell (the plan's reuse rule) and every finished index
or shard (the cache).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from typing import Any

import ray

from ..components import IndexCache
from ..errors import BrightEvalError
from ..execute import CellResult, Event, _append_run_log, _err, _quiet, rewrite_step
from ..plan import Cell, Plan
from ..scoring import HEADLINE
from . import ray_workers as W
from . import resources as R
from .ray_rewrite import ReplicaBackend

log = logging.getLogger(__name__)
MAX_RETRIES = 3  # per task, when its worker process or node dies
POLL_S = 0.5

_index = ray.remote(W.index_task)
_encode = ray.remote(W.encode_task)
_unit = ray.remote(W.unit_task)


def connect(address: str | None) -> bool:
    """Join the cluster at `address` ('auto', 'host:port', 'ray://host:port'), or start one on this
    machine when None. True when this call connected (and so should disconnect)."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}  # worker logs would tear the live table
    try:
        if address in (None, "", "local"):
            ray.init(include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"at {address}" if address else "on this machine"
        raise BrightEvalError(f"could not start or reach a Ray cluster {where} ({str(exc).splitlines()[0][:200]})") from None
    return True


def cluster() -> dict[str, Any]:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    return {"nodes": len(nodes), "cpus": total.get("CPU", 0), "gpus": total.get("GPU", 0),
            "node_resources": [n.get("Resources", {}) for n in nodes]}


def execute_ray(plan: Plan, on_event: Event = _quiet, address: str | None = None,
                resources: dict[str, dict[str, Any]] | None = None, max_retries: int = MAX_RETRIES) -> list[CellResult]:
    """Run `plan` on a Ray cluster; same results files, events and run log as `execute.execute`."""
    table = R.check(resources or {}, "resources")
    started, interrupted = time.time(), False
    own = connect(address)
    run = _Run(plan, table, on_event, max_retries)
    try:
        return run.go()
    except KeyboardInterrupt:
        interrupted = True
        run.cancel()
        raise
    finally:
        _append_run_log(plan, run.finished_in_plan_order(), time.time() - started, interrupted,
                        {"executor": "ray", "cluster": {k: v for k, v in run.seen.items() if k != "node_resources"},
                         "replica_restarts": run.restarts})
        if own:
            ray.shutdown()


class _Run:
    def __init__(self, plan: Plan, table: dict, on_event: Event, max_retries: int):
        self.plan, self.table, self.on_event, self.max_retries = plan, table, on_event, max_retries
        req = plan.request
        self.rw_refs = dict(zip(plan.rewriters, req.rewriters))
        self.ret_refs = dict(zip(plan.retrievers, req.retrievers))
        self.rr_refs = dict(zip(plan.rerankers, [r for r in req.rerankers if r is not None]))
        self.results: dict[tuple, CellResult] = {}
        self.pending: dict[Any, list[Cell]] = {}   # unit ObjectRef -> its cells
        self.side: list = []                        # index and encode ObjectRefs (counters, errors)
        self.rewritten: queue.Queue = queue.Queue()
        self.replicas: list = []
        self.restarts = 0
        self.seen = cluster()
        self.ctx = W.Context(req, plan.source, str(plan.cache.root),
                             skip_written=not any(c.reason == "--overwrite" for c in plan.cells))

    # -- resources -------------------------------------------------------------------------------
    def options(self, kind: str, name: str | None = None, extra: list[str] = ()) -> dict[str, Any]:
        req = R.request(self.table, kind, name)
        for other in extra:  # rerankers named in the table add their needs to their cells' task
            for k, v in self.table.get(other, {}).items():
                if isinstance(v, (int, float)):
                    req[k] = max(req.get(k, 0), v)
        if req.get("num_gpus") and not self.seen["gpus"]:
            if name in self.table or kind in self.table:
                raise BrightEvalError(f"resources for '{name or kind}' ask for GPUs, but the Ray cluster has none")
            req = R.cpu_fallback(req)
        if not any(R.fits(req, node) for node in self.seen["node_resources"]):
            raise BrightEvalError(f"no node of the Ray cluster can hold the resources asked for '{name or kind}' ({req}); "
                                  f"change [matrix.resources] or add a bigger node")
        return req

    def parallel(self, req: dict[str, Any], cap_key: str) -> int:
        """How many of these fit on the cluster at once (capped by `replicas` / `workers`)."""
        fits = []
        for key, total in (("num_gpus", self.seen["gpus"]), ("num_cpus", self.seen["cpus"])):
            if req.get(key):
                fits.append(int(total // req[key]))
        n = max(1, min(fits) if fits else 1)
        return min(n, int(req[cap_key])) if cap_key in req else n

    # -- the run ---------------------------------------------------------------------------------
    def go(self) -> list[CellResult]:
        plan = self.plan
        for c in plan.cells:
            if c.status == "reuse":
                self.finish(CellResult(c.rewriter, c.retriever, c.task, "reused", c.reranker,
                                       (c.record.metrics if c.record else {}).get(HEADLINE), path=str(c.path)))
            elif c.status == "blocked":
                self.finish(CellResult(c.rewriter, c.retriever, c.task, "blocked", c.reranker, error=c.reason, path=str(c.path)))
        units: OrderedDict[tuple, list[Cell]] = OrderedDict()
        for c in plan.cells:
            if c.status == "compute":
                units.setdefault((c.rewriter, c.retriever, c.task), []).append(c)
        if not units:
            return self.finished_in_plan_order()
        data_refs = {t: ray.put(plan.tasks[t]) for t in {k[2] for k in units}}
        index_refs = self.submit_indexes(units, data_refs)
        threads = self.start_rewrites(units)
        waiting = {k: cells for k, cells in units.items()}
        last = 0.0
        while waiting or self.pending:
            while True:
                try:
                    rw, task, rewrite = self.rewritten.get_nowait()
                except queue.Empty:
                    break
                ref = ray.put(rewrite)
                for key in [k for k in waiting if k[0] == rw and k[2] == task]:
                    self.submit_unit(waiting.pop(key), data_refs[task], ref, index_refs.get((key[1], task)))
            if self.pending:
                done, _ = ray.wait(list(self.pending), num_returns=len(self.pending), timeout=POLL_S)
                for ref in done:
                    self.collect(ref)
            else:
                time.sleep(0.05)
            if time.time() - last > 1.0:
                last = time.time()
                self.seen = cluster()
                self.on_event("cluster", self.status(len(waiting)))
        for t in threads:
            t.join()
        self.collect_side()
        self.on_event("cluster", self.status(0))
        return self.finished_in_plan_order()

    def status(self, waiting: int) -> dict[str, Any]:
        n = {s: sum(r.status == s for r in self.results.values()) for s in ("done", "failed")}
        return {"nodes": self.seen["nodes"], "cpus": self.seen["cpus"], "gpus": self.seen["gpus"],
                "running": sum(len(c) for c in self.pending.values()), "waiting": waiting, "replicas": len(self.replicas),
                "done": n["done"], "failed": n["failed"], "total": len(self.plan.cells)}

    def finish(self, res: CellResult) -> None:
        self.results[(res.rewriter, res.retriever, res.reranker, res.task)] = res
        self.on_event("cell", {"cell": res})

    def finished_in_plan_order(self) -> list[CellResult]:
        return [self.results[c.key] for c in self.plan.cells if c.key in self.results]

    # -- indexes ---------------------------------------------------------------------------------
    def submit_indexes(self, units, data_refs) -> dict[tuple[str, str], Any]:
        from bright_eval.retrievers.dense import DenseRetriever

        out: dict[tuple[str, str], Any] = {}
        first: dict[tuple, Any] = {}  # same artefact for two tasks (one corpus): build once, then a cache hit
        for ret, task in dict.fromkeys((k[1], k[2]) for k in units):
            bound, data = self.plan.bound[(ret, task)], self.plan.tasks[task]
            if isinstance(bound, IndexCache) and bound.is_cached(data.documents_fp):
                continue  # each cell task reads it from the cache
            dense = isinstance(bound, DenseRetriever)
            artefact = (ret, bound.embedding_key(data.documents_fp) if dense else data.documents_fp)
            deps = [first[artefact]] if artefact in first else []
            if dense and not deps:
                req = self.options("dense", ret)
                parts = self.parallel(req, "workers")
                deps = [_encode.options(**R.ray_options(req), max_retries=self.max_retries)
                        .remote(self.ctx, self.ret_refs[ret], data_refs[task], i, parts) for i in range(parts)]
                self.side += deps
            # Merging shards or building BM25 postings needs no GPU.
            ref = _index.options(**R.ray_options(self.options("cpu", None if dense else ret)), max_retries=self.max_retries
                                 ).remote(self.ctx, self.ret_refs[ret], data_refs[task], *deps)
            first.setdefault(artefact, ref)
            self.side.append(ref)
            out[(ret, task)] = ref
        return out

    # -- rewrites --------------------------------------------------------------------------------
    def start_rewrites(self, units) -> list[threading.Thread]:
        """One driver thread per rewriter, its tasks in order: a rewriter object is never shared
        between threads, and different rewriters (an API and a local model) overlap."""
        todo: OrderedDict[str, list[str]] = OrderedDict()
        for rw, _, task in units:
            if task not in todo.setdefault(rw, []):
                todo[rw].append(task)
        threads = [threading.Thread(target=self.rewrite_all, args=(rw, tasks), daemon=True) for rw, tasks in todo.items()]
        for t in threads:
            t.start()
        return threads

    def rewrite_all(self, rw_name: str, tasks: list[str]) -> None:
        rw = self.plan.rewriters[rw_name]
        remote = self.local_llm(rw) and any((rw_name, t) not in self.plan.rewrites for t in tasks)
        inner = getattr(rw, "backend", None)
        batch = getattr(rw, "batch_size", None)
        if remote:
            req = self.options("llm", rw_name)
            hf = inner.describe().get("backend") == "transformers"
            shim = ReplicaBackend(inner, self.rw_refs[rw_name], R.ray_options(req), self.parallel(req, "replicas"),
                                  batch if hf else 0)
            rw.backend, rw.batch_size = shim, 1 << 30  # one call: the shim cuts it into the same batches, over replicas
            self.replicas = shim.actors
        try:
            for task in tasks:
                self.on_event("rewrite", {"task": task, "rewriter": rw_name})
                try:
                    texts, stats = rewrite_step(self.plan, rw_name, self.plan.tasks[task])
                    self.rewritten.put((rw_name, task, (texts, stats, "")))
                except Exception as exc:  # noqa: BLE001 - the cells that need these rewrites fail with it
                    self.rewritten.put((rw_name, task, (None, None, _err(exc))))
        finally:
            if remote:
                self.restarts += shim.restarts
                shim.close()
                rw.backend, rw.batch_size = inner, batch
                self.replicas = []

    @staticmethod
    def local_llm(rw) -> bool:
        from bright_eval.rewriters.llm import LLMRewriter

        return isinstance(rw, LLMRewriter) and rw.backend.describe().get("backend") in ("transformers", "vllm")

    # -- cells -----------------------------------------------------------------------------------
    def submit_unit(self, cells: list[Cell], data_ref, rewrite_ref, index_ref) -> None:
        from bright_eval.retrievers.dense import DenseRetriever

        first = cells[0]
        bound = self.plan.bound[(first.retriever, first.task)]
        kind = "dense" if isinstance(bound, DenseRetriever) else "cpu"
        rerankers = [c.reranker for c in cells if c.reranker]
        opts = R.ray_options(self.options(kind, first.retriever, rerankers))
        ref = _unit.options(**opts, max_retries=self.max_retries).remote(
            self.ctx, cells, data_ref, rewrite_ref, self.ret_refs[first.retriever], {r: self.rr_refs[r] for r in rerankers}, index_ref)
        self.pending[ref] = cells
        self.on_event("search", {"task": first.task, "rewriter": first.rewriter, "retriever": first.retriever})

    def collect(self, ref) -> None:
        cells = self.pending.pop(ref)
        try:
            outcome: W.Outcome = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - the task's worker died more than max_retries times, or Ray failed it
            msg = f"Ray gave up on this cell after {self.max_retries} retries ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            for c in cells:
                self.finish(CellResult(c.rewriter, c.retriever, c.task, "failed", c.reranker, error=msg, path=str(c.path)))
            return
        self.count(outcome)
        for res in outcome.cells:
            self.finish(res)

    def collect_side(self) -> None:
        for ref in self.side:
            try:
                self.count(ray.get(ref))
            except Exception:  # noqa: BLE001 - its cells already carry the error
                pass

    def count(self, outcome: W.Outcome) -> None:
        for k, v in outcome.hits.items():
            self.plan.cache.hits[k] += v
        for k, v in outcome.builds.items():
            self.plan.cache.builds[k] += v

    def cancel(self) -> None:
        for ref in list(self.pending) + self.side:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
