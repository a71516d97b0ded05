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
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format markdown --digits 2 -o results/proxy/leaderboard.md
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format csv -o results/proxy/leaderboard.csv
"$BIN/bright-eval" leaderboard --results-dir results/proxy/runs --format latex -o results/proxy/leaderboard.tex
"$BIN/bright-eval" report --results-dir results/proxy/runs --baseline original --out results/proxy/report
"$BIN/bright-eval" report --results-dir results/proxy/runs --ablation reranker --out results/proxy/report-reranker
