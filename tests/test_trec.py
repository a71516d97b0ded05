"""TREC run and qrels files, including BRIGHT's doc ids that contain spaces."""

import pytest

from bright_eval.errors import BrightEvalError
from bright_eval.trec import read_qrels, read_run, write_run

SPACED = "pytorch_torch_tensor_functions/Memory Management_2_0.txt"


def test_run_roundtrip_keeps_ids_with_spaces(tmp_path):
    run = {"0": {SPACED: 2.5, "plain.txt": 1.25}, "1": {"x y  z": 0.5}}
    write_run(tmp_path / "r.run.gz", run, tag="my tag")
    assert read_run(tmp_path / "r.run.gz") == run
    lines = (tmp_path / "r.txt")
    write_run(lines, run)
    first = lines.read_text().splitlines()[0].split(" ")
    assert first[0] == "0" and first[-3] == "1"  # ranked by score


def test_qrels_with_spaces_and_tabs(tmp_path):
    p = tmp_path / "q.txt"
    p.write_text(f"0\t0\t{SPACED}\t1\n0 0 b.txt 1\n")
    assert read_qrels(p) == {"0": {SPACED: 1, "b.txt": 1}}


def test_real_stackoverflow_qrels_match_examples(shared_bright):
    from bright_eval.data import LocalSource

    qrels = read_qrels(shared_bright / "stackoverflow" / "qrels.txt")
    exs = LocalSource(shared_bright).examples("stackoverflow")
    assert {e.id: set(e.gold_ids) for e in exs} == {q: set(d) for q, d in qrels.items()}


@pytest.mark.parametrize("line, field", [("0 Q0 doc 1\n", "expected 6 columns 'qid Q0 docid rank score tag'"),
                                         ("0 Q0 doc 1 high tag\n", "field 'score' must be a number")])
def test_malformed_run_names_file_line_and_field(tmp_path, line, field):
    p = tmp_path / "bad.run"
    p.write_text("0 Q0 ok 1 1.0 t\n" + line)
    with pytest.raises(BrightEvalError) as e:
        read_run(p)
    assert f"{p}:2" in str(e.value) and field in str(e.value)


def test_missing_run_file(tmp_path):
    with pytest.raises(BrightEvalError, match="run file not found"):
        read_run(tmp_path / "nope.run")


def test_ranked_is_trec_evals_order_score_descending_then_doc_id_descending():
    import functools
    import random

    from bright_eval.trec import ranked

    rng = random.Random(7)
    for _ in range(50):
        docs = {f"d{rng.randrange(10_000)}": float(rng.choice([0.0, -0.0, 1.5, 2.25, -3.0, rng.random()])) for _ in range(300)}

        def cmp(a, b):  # trec_eval: higher score first; equal scores: larger doc id (strcmp) first
            if a[1] != b[1]:
                return -1 if a[1] > b[1] else 1
            return -1 if a[0] > b[0] else (1 if a[0] < b[0] else 0)

        assert ranked(docs) == sorted(docs.items(), key=functools.cmp_to_key(cmp))
