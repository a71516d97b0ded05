"""`python -m bright_eval.cli` = the `bright-eval` console script (for environments without it)."""

from bright_eval.cli import main

main()
