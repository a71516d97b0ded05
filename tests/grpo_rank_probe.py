"""`accelerate launch tests/grpo_rank_probe.py --config ...`: the GRPO entry point with the reward
recording, per process, how many completions it scored and for which questions (one JSON line per
call in $PROBE_DIR/rank<N>.jsonl), so a test can see every rank compute its own rewards."""

import json
import os
from pathlib import Path

from bright_eval.training import rewards
from bright_eval.training.grpo import main

_call = rewards.QueryReward.__call__


def probed(self, *args, completions=None, question=None, **kwargs):
    out = _call(self, *args, completions=completions, question=question, **kwargs)
    from accelerate import PartialState

    rank = PartialState().process_index
    with open(Path(os.environ["PROBE_DIR"]) / f"rank{rank}.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"n": len(completions), "questions": sorted(set(question))}) + "\n")
    return out


rewards.QueryReward.__call__ = probed
main()
