"""`--executor ray` on a real Ray cluster on 127.0.0.1: a head node and a second node, each a raylet
with its own worker processes, CPU only, one core each. The proxy matrix (3 rewriters incl. the
SmolLM2 model on replicas, 3 retrievers incl. dense all-MiniLM, 2 tasks) must give the local
executor's results files; a worker killed mid-cell and a model replica killed mid-generation must
leave nothing lost or duplicated."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bright_eval.cache import ArtifactCache
from bright_eval.data import LocalSource
from bright_eval.execute import RUN_LOG, execute
from bright_eval.experiment import build_request
from bright_eval.plan import make_plan

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from bright_eval.executors.ray_executor import execute_ray  # noqa: E402

TASKS = ("biology", "economics")
SMOL = "smollm2-135m-instruct(max_new_tokens=4,batch_size=2)"
REWRITERS = ["original", "bright:TongSearch-QR-1.5B", SMOL]
RETRIEVERS = ["bm25", "bm25-lucene", "all-minilm-l6-v2"]
NODE = {"num_cpus": 1, "object_store_memory": 100 * 1024 * 1024}


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    c.add_node(**NODE)
    ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
    try:
        c.wait_for_nodes()
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture(scope="module")
def data(make_proxy, tmp_path_factory):
    return make_proxy(tmp_path_factory.mktemp("proxy"), 3, TASKS)


def _request(rewriters=REWRITERS):
    return build_request(rewriters, RETRIEVERS, ",".join(TASKS), top_k=20)


def _files(root: Path) -> dict[str, object]:
    """Every results and run file, minus what may differ between executors: timings and host."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == RUN_LOG:
            continue
        if p.suffix == ".json":
            obj = json.loads(p.read_text())
            obj.pop("timings"), obj.pop("environment")
            out[str(p.relative_to(root))] = obj
        else:
            out[str(p.relative_to(root))] = p.read_bytes()
    return out


@pytest.mark.slow
def test_ray_matrix_equals_local(cluster, data, tmp_path):
    source = LocalSource(data)
    local = execute(make_plan(_request(), source, tmp_path / "local", ArtifactCache(tmp_path / "c-local")))
    assert [c.status for c in local] == ["done"] * 18, [c.error for c in local if c.error]

    # Results through an fsspec URL, caches on a (here: local) shared path, a fresh cache: the Ray
    # run generates, encodes and indexes for itself.
    url = f"file://{tmp_path}/ray"
    cache = ArtifactCache(tmp_path / "c-ray")
    events = []
    cells = execute_ray(make_plan(_request(), source, url, cache), on_event=lambda k, i: events.append((k, i)))
    assert [c.status for c in cells] == ["done"] * 18, [c.error for c in cells if c.error]
    assert [(c.rewriter, c.retriever, c.task, c.ndcg10) for c in cells] == [(c.rewriter, c.retriever, c.task, c.ndcg10) for c in local]
    assert _files(tmp_path / "ray") == _files(tmp_path / "local")
    # One embedding matrix per corpus (the two proxy tasks share one), shared by its cells.
    assert cache.builds["embeddings"] == 1
    rewrites = [i for k, i in events if k == "rewrite"]
    assert sorted((i["rewriter"], i["task"]) for i in rewrites) == sorted((rw, t) for rw in
                                                                          ["original", "bright:TongSearch-QR-1.5B",
                                                                           "smollm2-135m-instruct(max_new_tokens=4)"] for t in TASKS)
    status = [i for k, i in events if k == "cluster"][-1]
    assert status["nodes"] == 2 and status["done"] == 18 and status["failed"] == 0
    log = json.loads((tmp_path / "ray" / RUN_LOG).read_text())
    assert log["executor"] == "ray" and log["counts"]["done"] == 18

    # A rerun (a new driver) reuses everything.
    again = execute_ray(make_plan(_request(), source, url, ArtifactCache(tmp_path / "c-ray")))
    assert [c.status for c in again] == ["reused"] * 18


def _ray_procs(prefix: str) -> list[int]:
    """Worker processes of this machine whose Ray title starts with `prefix` (e.g. 'ray::unit_task')."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith(prefix):
                out.append(int(d.name))
    return out


@pytest.mark.slow
def test_killed_workers_lose_nothing(cluster, data, tmp_path):
    """SIGKILL a model replica while it generates and a worker while it computes a cell: Ray
    restarts/retries them, every cell is written once, and every rewrite is generated."""
    rewriters = ["original", "smollm2-135m-instruct(max_new_tokens=5,batch_size=1)"]
    request = build_request(rewriters, ["bm25", "all-minilm-l6-v2"], "biology", top_k=20)
    killed: dict[str, int] = {}
    stop = threading.Event()

    def killer():
        deadline = time.time() + 240
        while not stop.is_set() and time.time() < deadline and len(killed) < 2:
            for what, prefix in (("replica", "ray::RewriteReplica.generate"), ("cell", "ray::unit_task")):
                pids = _ray_procs(prefix)
                if what not in killed and pids:
                    # Let it get going first, so the kill lands mid-work.
                    time.sleep(0.3 if what == "cell" else 1.5)
                    if pids[0] in _ray_procs(prefix):
                        os.kill(pids[0], signal.SIGKILL)
                        killed[what] = pids[0]
            time.sleep(0.02)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    results = tmp_path / "r"
    plan = make_plan(request, LocalSource(data), results, ArtifactCache(tmp_path / "c"))
    try:
        cells = execute_ray(plan)
    finally:
        stop.set()
        thread.join()
    assert set(killed) == {"replica", "cell"}, killed
    assert [c.status for c in cells] == ["done"] * 4, [c.error for c in cells if c.error]
    assert len({c.path for c in cells}) == 4 and len(list(results.rglob("*.json"))) == 4
    log = [json.loads(line) for line in (results / RUN_LOG).read_text().splitlines()]
    assert len(log) == 1 and log[0]["counts"]["done"] == 4 and log[0]["replica_restarts"] >= 1
    for p in results.rglob("*.json"):
        rec = json.loads(p.read_text())
        if rec["rewriter"].startswith("smollm2"):
            stats = rec["rewriter_stats"]
            assert stats["generated"] + stats["from_cache"] == 3  # every query's rewrite, none twice
    # The replica's finished replies were committed as they came: nothing is generated on a rerun.
    again = make_plan(request, LocalSource(data), tmp_path / "r2", ArtifactCache(tmp_path / "c"))
    assert all(c.rewrite_cached for c in again.cells)


@pytest.mark.slow
def test_cli_matrix_on_a_running_cluster(cluster, data, tmp_path):
    """The experiment file's executor/resources keys and --address, as on a Slurm allocation."""
    import subprocess
    import sys

    runs = f"file://{tmp_path}/runs"
    conf = tmp_path / "exp.toml"
    base = f'[matrix]\nrewriters = ["original"]\nretrievers = ["bm25"]\ntasks = "biology"\ntop_k = 20\nexecutor = "ray"\nresults_dir = "{runs}"\n'
    conf.write_text(base + "[matrix.resources.bm25]\nnum_cpus = 1\n")
    cmd = [sys.executable, "-c", "from bright_eval.cli import main; main()", "matrix", "--config", str(conf),
           "--data-dir", str(data), "--cache-dir", str(tmp_path / "c"), "--address", cluster.address, "--format", "json"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout)
    assert out["summary"]["done"] == 1 and out["cells"][0]["path"].startswith("file://")
    assert (tmp_path / "runs" / "original" / "bm25").is_dir()

    conf.write_text(base + "[matrix.resources.bm25]\nnum_gpus = 1\n")
    res = subprocess.run(cmd + ["--overwrite"], capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "ask for GPUs, but the Ray cluster has none" in res.stderr
    assert "Traceback" not in res.stderr

    conf.write_text(base + "[matrix.resources.bm25]\ngpus = 1\n")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode != 0 and "resources.bm25.gpus is not one of" in res.stderr
