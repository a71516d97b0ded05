"""Executors run a plan (bright_eval/plan.py). `local` (bright_eval/execute.py) is the default;
`ray` (ray_executor.py) spreads the same steps over a Ray cluster. Only the Ray modules import ray."""

EXECUTORS = ("local", "ray")
