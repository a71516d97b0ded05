"""`qg-gpt-4.1:<method>@published`: QueryGym's published BRIGHT reformulations (GPT-4.1), the queries
behind its 70 published nDCG@10 numbers, so those runs can be searched with any of our retrievers.

Source: ls3-lab/QueryGym (Apache-2.0) at COMMIT, `reproducibility/data/runs/bright-<domain>/<method>/
openai/gpt-4.1/bm25/<params_hash>.queries.tsv`, one file per (method, task), seven Stack Exchange
tasks only. Each file is pinned by its sha256 (RUNS), fetched once over HTTPS and kept in the cache;
offline, a local folder with the same layout (`folder=`, e.g. shared/querygym, files plain or .gz)
(or $BRIGHT_EVAL_QUERYGYM_DIR) is read instead. Either way the bytes must have the pinned sha256, so where they came from does not
change the rewriter's identity.

The texts are used exactly as QueryGym searched them: its pipeline loads this file with
`qg.load_queries` (examples/querygym_pyserini/retrieve.py:91), i.e. `csv.reader(delimiter="\\t")` on a
text-mode file, qid and text `.strip()`ped (querygym/data/dataloader.py:60-77), and passes the text
to Pyserini's `batch_search` (retrieve.py:118-125). The text already holds the method's own
combination of the original query and the LLM output (e.g. MuGI repeats the query), so there is no
`compose` option.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import logging
import os
import urllib.error
import urllib.request
from pathlib import Path

from bright_eval.cache import ArtifactCache
from bright_eval.errors import BrightEvalError
from bright_eval.io import atomic_write_bytes

from . import Query, RewriteStats
from .published import look_up_all

log = logging.getLogger(__name__)

REPO = "ls3-lab/QueryGym"
COMMIT = "a1d2dd5e76f8a655991d4f0c0065d76a37d4e703"  # HEAD of main; the BRIGHT runs came with its PR #32
BASE_URL = "https://raw.githubusercontent.com"
MODEL = "gpt-4.1"
TIMEOUT = 30.0
FOLDER_ENV = "BRIGHT_EVAL_QUERYGYM_DIR"  # the default `folder`, for offline `reproduce`

# task, method (query2doc with its mode), params_hash, sha256 of the queries file at COMMIT.
_TABLE = """
biology csqe e1bfc505 f155dcf1156d026a6b2548305109008e2a2d4f092f72e10514f900a47a299e86
biology genqr bb1e250c 6425ff7a8ea6f418daad5539e297d743fbf06530e49c62e6f708121d32ffd17f
biology genqr_ensemble 7708261b 881b1f14a39d1e0b9050685e3d81fcc9d42b916e689066eec8ab0959561120d1
biology lamer 226155a3 3d4887ef78bc9c77f697fd597ff5747902a184b929f63ad51274bfaeee8bedd4
biology mugi ac7a6551 8f5a546f764cdfd95ca43826ff9a9cb25f820b1f07f1664bf32a52f80208c909
biology qa_expand 19dde16a 324e3e48dcc8ae127371e682738053fe7b1907715bac41dcf109ceb4c0bad8b9
biology query2doc-cot 5ea0f26f 782c1f323c09c057f79306e737ecd88cc8a59f48708bcfbdd5c7f0a371a4cba9
biology query2doc-fs 69871a67 1e53cb4df0d4c0ec96d97c8bd0ee664776200cc4c41a0dd6c8d160b5c465e48e
biology query2doc-zs aa7fee04 c01fec4c88fa5d8dd147376ecd7fbf6058924f1924de242f3a1de9a2531672ca
biology query2e edce8c2a 3d4e7cb7e4ae83bc36059edea4ecce2bb602e3d5ff75706ae59153a116bb53c4
earth_science csqe e1bfc505 82e8fe3656290a0657f8528cd358869ac94dd6985e186a02e3236ba265567e42
earth_science genqr bb1e250c 757fa50c208f9d5e6b7c146de106ad6f02f9ec4793ffbcbbed8638b6466c0deb
earth_science genqr_ensemble 7708261b b17f75602330aebf2d31097223a7e6e8dfd2f6d8d52beee5965d2207e25eaf69
earth_science lamer 226155a3 76b1d8eddf11e2abb4fd9268a593c97c4f496c1cff4b7764e2382c84668f3edd
earth_science mugi ac7a6551 fdd93e65e81550d115a3b582fd2e049d7600b98e288b791bde54dfe8af86565d
earth_science qa_expand 19dde16a 7a453bbdfea498ad077258f980ebe8121203801f2841c4253c2f8655b2549d46
earth_science query2doc-cot 5ea0f26f c272161e226b6e774d089c01b42812d24e5d1eccd792f369312edb916779364b
earth_science query2doc-fs 97412198 767dbd2b17a43513f4a95013f40a31a5701466182b0334a355cc4cf48c930153
earth_science query2doc-zs aa7fee04 4d1efa3e083374cf36eb1a267e095dcada628ce22457607d959eb4a128e5de20
earth_science query2e edce8c2a 6cbfc6dd94c6d8880f661012d013bf9e3192924cb626a62bf708e58bdccdb138
economics csqe e1bfc505 74b4ac009bcd135bc28bc193dcc9b562d25db0dd10bf871af6a73f3666a38048
economics genqr bb1e250c 432ddec0eff166746ee766566aabe90f9a51dd5ed2ad2f3d72c04b0df54e2496
economics genqr_ensemble 7708261b bb7bac183cba5c20fc2b09d3114fc45b8c5f7f131eb361b0abd1ecbeaf0d64c3
economics lamer 226155a3 9db99ca8f8c6f93eff193c0f19da30db50a1045affd778ce272d87fb9ee6de21
economics mugi ac7a6551 77c4297f30d8c660f0c55a7a8e9b6a3a1962b1a7736a5c58682feba4e5087359
economics qa_expand 19dde16a e3fd80a066680c2151cde0775b32c2e23e305e610b6508aac8e71f2f541773ad
economics query2doc-cot 5ea0f26f a22e4ec7f369009656dca68b82f6661e391f1ca3ce9537f64f3efb7fd87170d7
economics query2doc-fs 7cbb7af3 7b57ddde1b4aeff4e3ec9c39e59e57d9a9249aed658b20d6b28eaad8f6a26bd3
economics query2doc-zs aa7fee04 0abff4bbde075c9f816ace1abb094ad05cdf0c35f35a4cd73909798e396785dc
economics query2e edce8c2a f9e14503b3b15235a5c00914c45b50e4669279e6d5144d653b7aa26671a589f9
psychology csqe e1bfc505 15747ed550a9f1451807767665a7b72bc247b2618bf6d6226a7a350d8d174ed1
psychology genqr bb1e250c cae16e8242b417dce094fd898620be8b9632028382020755ee241b6c835db6af
psychology genqr_ensemble 7708261b 4cff36a277fb3e98858c26545930f2c57050582a576afa6cdb9ba12d768b5ff7
psychology lamer 226155a3 7469375935baba7799a2593b9ffc58e7d5d2fdaa92125e55e590b8269f30923d
psychology mugi ac7a6551 d52d727a92f99fed9f5fcfd464b3c9807d066f2892fa2a754e79d8e72ea59c65
psychology qa_expand 19dde16a 58e961ea623ff2258f32c2383e2c9335ecdb564229ee042237d55b3e2fdc02b9
psychology query2doc-cot 5ea0f26f e01398ee59c1f1fc3dc670607ec58b97897c3038a9baf96552feb627d4e08111
psychology query2doc-fs 4ebcdb65 f7f47864a2cfd2f4228244380e313dc1c0c5fc30fe9e74dd2b8f10ad8034b922
psychology query2doc-zs aa7fee04 e85e9db2efa1d51bad5d7b6605b2ad5d75dd5c66227941bfac7210969dc17c0d
psychology query2e edce8c2a 93af0ffacc0883fd256d14a3a1b4ebdca906da2b626adbad36edabd9e9ab8396
robotics csqe e1bfc505 2d0eb29a9d42c64dc91e33150fb9dca30740b65ce3a9b9d9ba7333bf47e73e85
robotics genqr bb1e250c 9062bbebce6fe460b585555f8c3c02493242ba237609333b6aaf566b082bbbc1
robotics genqr_ensemble 7708261b a056b3a0d46a26a3dba93e125f84ea02b69481c5905538f3c013a0e5a93bfb79
robotics lamer 226155a3 13a76ef10d94a790cf0dee14f76c3255595c49ee7fbdc475647a65e12d0433f5
robotics mugi ac7a6551 54457c13ca413f8fca306043fb05b1bc4d8964ce29f3d48eeaeede7c5153f55c
robotics qa_expand 19dde16a c5708f3fa6a4b5d07aab2f4eefbb194c486923461cb511946b1556079a38cf82
robotics query2doc-cot 5ea0f26f 5192af82d22f5d02cf0fc9fa52f0a821cc4853e0c1fd8c814b109eca7f6cab46
robotics query2doc-fs cee67cd2 7096d32620f8c804ad1509e52e947ff5e85ec2d50264c323ccbca1ceffc70329
robotics query2doc-zs aa7fee04 3feb47ab0b60e459ad7ccae692d6da0380c0fbf923b4119e5d67430959497db4
robotics query2e edce8c2a e308a453f5112493472370acde0793ef41e56b74575eb56dcc4e7791e4c9a13d
stackoverflow csqe e1bfc505 b06615322aa56550a2fdf2003b4b158f6b635378f5a1211638924324963761da
stackoverflow genqr bb1e250c 264f3063b40785a141627a102fb116401d5407bf7d5a51b41e74798927007383
stackoverflow genqr_ensemble 7708261b e6e33c045796f5a4fcfd212ce88440df68e6ceb31761a85d1f8867acd8fc1321
stackoverflow lamer 226155a3 8dce5e32026cd2bc6da7ba4fd9a3595dd21a7f96e388d4267bd61576d97f6e4b
stackoverflow mugi ac7a6551 2da5d398254684a0f523dfb4cd57fa0996a73a2577fdd895684f03707804dc35
stackoverflow qa_expand 19dde16a 506c0283642fac41eb95e965484aedc490ce93337be69db33b38141b3de81a9e
stackoverflow query2doc-cot 5ea0f26f 6bb691736b62aace2d2e285926aa73209880350f06be940800c5b5869401732f
stackoverflow query2doc-fs 1b16c47d a2d28429362f131b14cb2333be3ffd24f9005270fe7828596a0039fd5bee5a3a
stackoverflow query2doc-zs aa7fee04 a700a0b67c5d71871f92ee69cac00d4c726185f6d54ed40c75b21044066451c9
stackoverflow query2e edce8c2a 4e22d77ceb6c4603e00e0fe0707ff42d584400dafe92448050171ebada88c823
sustainable_living csqe e1bfc505 87ac84634c4cfd11d1aa403320598e27530005a7e51b0aa5c8e80105b7597764
sustainable_living genqr bb1e250c c251d183d0b946fd600ce1f05e6c74b6b03efdfe51372b1ee6e3db0dcc3d9564
sustainable_living genqr_ensemble 7708261b 200ffac3166bda7d1c7416f7d8b71e5a298ab6d3bf7c5f90f6e7b7cc4a2aea74
sustainable_living lamer 226155a3 ba33a3ee101466d948fba4c44bcbcc0a436eef87b2b4c429fd53a55d82f91435
sustainable_living mugi ac7a6551 0e47942a2007a3e6843d2ef7490562f87c0d728fffa276a9bde5d1d68393285c
sustainable_living qa_expand 19dde16a 1bf6af514fe2a62025391c6aaf36e19a8aaf2e0d85a9a3b9e9b20dcf5ce17555
sustainable_living query2doc-cot 5ea0f26f a93a80cb130b3604e1f21832228795f741955956f30f33099846aa05f1804be6
sustainable_living query2doc-fs b6805dff cd1e4f67f4e6cf478f9ae9b90444426e59610271caa99912ff21329fabb8781a
sustainable_living query2doc-zs aa7fee04 156d4e68eb55686f6fc499c574df3b951183ea46727bc1634faa175ab0531297
sustainable_living query2e edce8c2a 1ffe205b5a5cf5ac22095ff0b947c2688b44c441fcd3f424a972f443348fd15a
"""
RUNS: dict[tuple[str, str], tuple[str, str]] = {
    (m, t): (h, s) for t, m, h, s in (line.split() for line in _TABLE.strip().splitlines())
}
METHODS = tuple(dict.fromkeys(m.split("-")[0] for m, _ in RUNS))  # genqr, ..., query2doc, ...
TASKS = tuple(dict.fromkeys(t for _, t in RUNS))


def variant(method: str, mode: str | None) -> str:
    return f"{method}-{mode}" if mode else method


def relpath(method: str, mode: str | None, task: str) -> str:
    """The file's path under QueryGym's `reproducibility/data/runs/` (and under a local folder)."""
    params_hash = RUNS[(variant(method, mode), task)][0]
    return f"bright-{task.replace('_', '-')}/{method}/openai/{MODEL}/bm25/{params_hash}.queries.tsv"


def url_of(method: str, mode: str | None, task: str) -> str:
    return f"{BASE_URL}/{REPO}/{COMMIT}/reproducibility/data/runs/{relpath(method, mode, task)}"


def parse_queries(data: bytes) -> dict[str, str]:
    """qid -> text, read as QueryGym's DataLoader reads it (module docstring): universal newlines,
    csv quoting, both fields stripped, rows with fewer than two fields or an empty text skipped."""
    out: dict[str, str] = {}
    for row in csv.reader(io.StringIO(data.decode("utf-8"), newline=None), delimiter="\t"):
        if len(row) >= 2 and row[1].strip():
            out[row[0].strip()] = row[1].strip()
    return out


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class QueryGymPublished:
    def __init__(self, method: str, mode: str | None = None, cache: ArtifactCache | None = None, folder: str | None = None):
        self.method, self.mode = method, mode
        self.variant = variant(method, mode)
        self.name = f"qg-{MODEL}:{method}@published"
        self.root = (cache or ArtifactCache()).root
        folder = folder or os.environ.get(FOLDER_ENV) or None  # identity-neutral: the bytes are checked either way
        self.folder = Path(folder).expanduser() if folder else None
        self.stats = RewriteStats()
        self._texts: dict[str, dict[str, str]] = {}  # task -> qid -> text

    def _local(self, task: str, sha256: str) -> bytes | None:
        if self.folder is None:
            return None
        if not self.folder.is_dir():
            raise BrightEvalError(f"{self.name}: folder={self.folder} is not a folder (expected QueryGym's runs layout, "
                                  f"e.g. {self.folder}/{relpath(self.method, self.mode, task)}[.gz])")
        for path in (self.folder / relpath(self.method, self.mode, task), self.folder / (relpath(self.method, self.mode, task) + ".gz")):
            if path.is_file():
                raw = path.read_bytes()
                data = gzip.decompress(raw) if path.suffix == ".gz" else raw
                if _sha(data) != sha256:
                    raise BrightEvalError(f"{path}: sha256 {_sha(data)}, expected {sha256} (QueryGym @{COMMIT[:8]}); not used")
                return data
        return None

    def _download(self, task: str, sha256: str) -> bytes:
        url = url_of(self.method, self.mode, task)
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as resp:  # noqa: S310 - a fixed https URL
                data = resp.read()
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            where = f"no file under folder={self.folder}" if self.folder else "no folder= given to read instead"
            raise BrightEvalError(f"{self.name}: download of {url} failed ({getattr(exc, 'reason', exc)}) and {where}; "
                                  f"download it on a connected machine, or pass folder=<a copy of QueryGym's runs>") from None
        if _sha(data) != sha256:
            raise BrightEvalError(f"{url}: downloaded {len(data)} bytes with sha256 {_sha(data)}, expected {sha256}; not used")
        return data

    def texts(self, task: str) -> dict[str, str]:
        """qid -> searched text for `task`: from the cache, else the local folder, else a download."""
        if task in self._texts:
            return self._texts[task]
        if (self.variant, task) not in RUNS:
            raise BrightEvalError(f"{self.name}: QueryGym published BRIGHT runs for {', '.join(TASKS)} only, not for '{task}'")
        sha256 = RUNS[(self.variant, task)][1]
        cached = self.root / "published" / f"{sha256}.tsv"
        data = cached.read_bytes() if cached.exists() else None
        if data is None or _sha(data) != sha256:
            data = self._local(task, sha256) or self._download(task, sha256)
            atomic_write_bytes(cached, data)
        self._texts[task] = parse_queries(data)
        return self._texts[task]

    def rewrite(self, queries: list[Query]) -> list[str]:
        out = look_up_all(self.name, queries, lambda q: self.texts(q.task).get(q.id), "QueryGym's run has no query")
        self.stats.from_cache += len(queries)
        return out

    def is_cached(self, queries: list[Query]) -> bool:
        return True  # nothing to generate

    def spec(self) -> dict:
        files = {t: s for (v, t), (_, s) in RUNS.items() if v == self.variant}
        return {"name": self.name, "kind": "published", "source": f"github:{REPO}@{COMMIT}", "method": self.method,
                "mode": self.mode, "model": f"openai/{MODEL}", "sha256": files}
