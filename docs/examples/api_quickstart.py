"""A notebook-style tour of the Python API (executed by tests/test_api.py against the tiny fixture).

Run it yourself with `python docs/examples/api_quickstart.py DATA_DIR OUT_DIR`.
"""

import sys

import bright_eval as be

data_dir, out = sys.argv[1], sys.argv[2]


class TitleOverlap:
    """A custom retriever object: scores each document by the query words it shares.
    It implements the Retriever protocol (name, spec, index, search) and is passed in directly."""

    name = "title-overlap"

    def spec(self):
        return {"name": self.name, "version": 1}  # enters every cell identity: change it and cells recompute

    def index(self, corpus):
        self.words = {doc_id: set(text.lower().split()) for doc_id, text in zip(corpus.ids, corpus.texts)}

    def search(self, queries, k=1000, exclude=None):
        runs = {}
        for qid, text in queries.items():
            q, skip = set(text.lower().split()), (exclude or {}).get(qid, set())
            scores = {d: float(len(q & w)) for d, w in self.words.items() if d not in skip}
            runs[qid] = dict(sorted(scores.items(), key=lambda kv: -kv[1])[:k])
        return runs


# A matrix through the same plan/execute path as `bright-eval matrix`: reused on a second call.
res = be.matrix(["original"], ["bm25", "bm25(k1=1.2)", TitleOverlap()], tasks="biology,pony",
                data_dir=data_dir, results_dir=f"{out}/runs", cache_dir=f"{out}/cache")
table = res.to_pandas()
print(table[["retriever", "task", "status", "ndcg@10"]].to_string(index=False))

per_query = res.to_pandas(per_query=True)
print(f"{len(per_query)} per-query rows")

board = be.leaderboard(f"{out}/runs")
print(board.to_pandas()[["retriever", "average"]].to_string(index=False))

report = be.report(f"{out}/runs", baseline="original", baseline_retriever="bm25", rounds=200)
print(f"{len(report['comparisons'])} comparisons against original + bm25")
