#!/usr/bin/env bash
# Regenerates results/proxy/ (see results/README.md). Usage: bash results/reproduce.sh [../shared/bright]
set -euo pipefail
SHARED=${1:-../shared/bright}
BIN=${BIN:-.venv/bin}
PROXY=${PROXY:-${TMPDIR:-/tmp}/bright-eval-proxy}  # fixed, so a rerun reuses every finished cell
export HF_HUB_OFFLINE=1
"$BIN/bright-eval" data proxy --data-dir "$SHARED" --out "$PROXY"
"$BIN/bright-eval" matrix \
    --rewriters original,bright:TongSearch-QR-1.5B,bright:TongSearch-QR-7B \
    --retrievers "bm25,bm25-lucene,all-minilm-l6-v2,fuse:rrf(bm25,all-minilm-l6-v2)" \
    --rerankers "embed:all-minilm-l6-v2" \
    --tasks biology,earth_science,economics,psychology,robotics,stackoverflow,sustainable_living \
    --data-dir "$PROXY" --results-dir results/proxy/runs
# QueryGym's published GPT-4.1 reformulations (7 Stack Exchange tasks) against the same baselines,
# under both BM25 flavours; the files are sha256-checked, read from ../shared/querygym when offline.
export BRIGHT_EVAL_QUERYGYM_DIR=${BRIGHT_EVAL_QUERYGYM_DIR:-$(dirname "$SHARED")/querygym}
QG=qg-gpt-4.1:genqr@published,qg-gpt-4.1:genqr_ensemble@published,qg-gpt-4.1:query2doc@published
QG=$QG,"qg-gpt-4.1:query2doc@published(mode=cot)","qg-gpt-4.1:query2doc@published(mode=fs)",qg-gpt-4.1:query2e@published
QG=$QG,qg-gpt-4.1:qa_expand@published,qg-gpt-4.1:lamer@published,qg-gpt-4.1:mugi@published,qg-gpt-4.1:csqe@published
"$BIN/bright-eval" matrix \
    --rewriters "original,bright:TongSearch-QR-1.5B,bright:TongSearch-QR-7B,$QG" \
    --retrievers bm25,bm25-lucene \
    --tasks biology,earth_science,economics,psychology,robotics,stackoverflow,sustainable_living \
    --data-dir "$PROXY" --results-dir results/proxy/runs
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format markdown --digits 2 -o results/proxy/leaderboard.md
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format csv -o results/proxy/leaderboard.csv
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format latex -o results/proxy/leaderboard.tex
"$BIN/bright-eval" report --results-dir results/proxy/runs --baseline original --out results/proxy/report \
    --rewriters original,bright:TongSearch-QR-1.5B,bright:TongSearch-QR-7B
"$BIN/bright-eval" report --results-dir results/proxy/runs --baseline original --retrievers bm25,bm25-lucene \
    --out results/proxy/report-querygym
"$BIN/bright-eval" report --results-dir results/proxy/runs --ablation reranker --out results/proxy/report-reranker
# The explorer over every cell above (git-ignored; 143 MB for the 44 systems here) and the screenshots README shows.
"$BIN/bright-eval" explore --results-dir results/proxy/runs --data-dir "$PROXY" --out results/proxy/explore
"$BIN/python" results/explore_screenshots.py results/proxy/explore biology 16 || echo "explorer screenshots skipped (no headless chromium)"
