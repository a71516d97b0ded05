"""`python -m bright_eval.training --config FILE`: the GRPO entry point for `accelerate launch -m`."""

from .grpo import main

main()
