"""`bright-eval explore`: a static site, built from results files alone, to see query by query why a
rewrite or a retriever wins or loses (rewrites diffed against the original, rankings side by side
with gold marks, BM25 term contributions, BRIGHT's reasoning notes).

systems.py finds the systems and how they relate (baseline, first stage, fused children); pages.py
turns records, runs and the data source into the pages' data; bm25_terms.py explains BM25 scores;
site.py renders the Jinja2 templates and writes the folder, the single file, or serves it."""
