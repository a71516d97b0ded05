"""Training query reasoners à la TongSearch-QR (arXiv 2506.11603): data curation with a BRIGHT leakage
guard (`data`, `leakage`), relevance scorers and rewards (`scorers`, `rewards`), GRPO with TRL driven
by a YAML config (`grpo`, `configs/`), and models that need no download (`models`).

Heavy libraries (torch, transformers, trl, peft) are imported inside functions, so importing this
package costs nothing."""
