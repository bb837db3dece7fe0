"""Stemma's retrieval (RAG) pipeline on Dagster: the same work as `assets materialize --select
'*retrieval_eval' --config synthetic_docs=N` in Stemma's demo code location (`assets/`).

raw_documents ─► chunks ─► embeddings ─► retrieval_eval, with the same three checks
(chunks_not_empty, embedding_norms, and the blocking recall_gate), every table stored as
Parquet by an IO manager, `retrieval_eval` as JSON.

The generator, chunking, embedding and evaluation are ports of the Rust ones, and the
vocabulary, common words and stopwords are read from the Rust sources, so both sides process
the same documents: the same chunk count and (up to float rounding) the same recall.
Written as a Dagster user would: pyarrow tables between assets, numpy where it vectorizes.
"""

import functools
import json
import os
import re
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[3]
DIMS = 256
QUERY_WORDS = 12
MASK = (1 << 64) - 1


def _rust_strings(body: str) -> list[str]:
    return re.findall(r'"([^"]*)"', body)


def _vocabulary():
    documents = (REPO / "assets/src/documents.rs").read_text()
    topics_src = documents.split("const TOPICS")[1].split("const COMMON")[0]
    topics = [
        (name, _rust_strings(body))
        for name, body in re.findall(r'\(\s*"(\w+)",\s*&\[(.*?)\]', topics_src, re.S)
    ]
    common = _rust_strings(re.search(r"const COMMON: &\[&str\] = &\[(.*?)\];", documents, re.S)[1])
    embed = (REPO / "assets/src/embed.rs").read_text()
    stop = _rust_strings(re.search(r"const STOPWORDS: &\[&str\] = &\[(.*?)\];", embed, re.S)[1])
    return topics, common, frozenset(stop)


TOPICS, COMMON, STOPWORDS = _vocabulary()


class Rng:
    """splitmix64, as `assets::documents::Rng`."""

    def __init__(self, seed: int):
        self.state = seed & MASK

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def unit(self) -> float:
        return (self.next_u64() >> 11) / float(1 << 53)

    def below(self, n: int) -> int:
        return int(self.unit() * n) % max(n, 1)


def generate(n: int, seed: int) -> pa.Table:
    rows = {"doc_id": [], "title": [], "topic": [], "text": [], "words": []}
    for i in range(n):
        rng = Rng(seed ^ ((i * 0x2545F4914F6CDD1D) & MASK))
        topic, vocab = TOPICS[i % len(TOPICS)]
        length = 120 + rng.below(360)
        words = []
        sentence = 0
        for _ in range(length):
            r = rng.unit()
            if r < 0.55:
                u = rng.unit()
                word = vocab[int((u * u) * len(vocab)) % len(vocab)]
            elif r < 0.65:
                _, other = TOPICS[rng.below(len(TOPICS))]
                word = other[rng.below(len(other))]
            else:
                word = COMMON[rng.below(len(COMMON))]
            words.append(word)
            sentence += 1
            if sentence > 7 and rng.unit() < 0.15:
                words[-1] += "."
                sentence = 0
        rows["doc_id"].append(f"synthetic/{topic}/{i:07}")
        rows["title"].append(f"{topic} {i}")
        rows["topic"].append(topic)
        rows["text"].append(" ".join(words))
        rows["words"].append(length)
    return pa.table(rows).set_column(4, "words", pa.array(rows["words"], pa.uint32()))


def windows(length: int, size: int, overlap: int):
    step = size - overlap
    start = 0
    while start < length:
        end = min(start + size, length)
        yield start, end
        if end == length:
            return
        start += step


def tokens(text: str) -> list[str]:
    return [
        t
        for t in map(str.lower, re.findall(r"[^\W_]+", text))
        if len(t) >= 2 and t not in STOPWORDS
    ]


@functools.cache
def feature(token: str) -> tuple[int, float]:
    """The bucket and sign of a word or bigram: 64-bit FNV-1a of its UTF-8 bytes."""
    h = 0xCBF29CE484222325
    for b in token.encode():
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h % DIMS, 1.0 if h >> 63 == 0 else -1.0


def embed_all(texts) -> np.ndarray:
    counts = np.zeros((len(texts), DIMS), dtype=np.float32)
    for row, text in enumerate(texts):
        c = [0.0] * DIMS
        toks = tokens(text)
        for i, t in enumerate(toks):
            bucket, sign = feature(t)
            c[bucket] += sign
            if i + 1 < len(toks):
                bucket, sign = feature(f"{t} {toks[i + 1]}")
                c[bucket] += 0.5 * sign
        counts[row] = c
    v = np.sign(counts) * np.log1p(np.abs(counts))
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return np.divide(v, norms, out=v, where=norms > 0)


# Seconds spent inside each asset and check function, for overhead.py: the rest of a run's
# wall time is the framework's.
IN_CODE: dict[str, float] = {}


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            IN_CODE[fn.__name__] = IN_CODE.get(fn.__name__, 0.0) + time.perf_counter() - start

    return wrapper


class ParquetIOManager(dg.ConfigurableIOManager):
    """Tables as Parquet files, anything else as JSON, under `base_dir`."""

    base_dir: str

    def _path(self, key: dg.AssetKey, suffix: str) -> Path:
        return Path(self.base_dir, *key.path).with_suffix(suffix)

    def handle_output(self, context: dg.OutputContext, obj):
        if isinstance(obj, pa.Table):
            path = self._path(context.asset_key, ".parquet")
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(obj, path)
            context.add_output_metadata({"rows": obj.num_rows, "path": str(path)})
        else:
            path = self._path(context.asset_key, ".json")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(obj))

    def load_input(self, context: dg.InputContext):
        path = self._path(context.asset_key, ".parquet")
        if path.exists():
            return pq.read_table(path)
        return json.loads(self._path(context.asset_key, ".json").read_text())


class RagConfig(dg.Config):
    synthetic_docs: int = int(os.environ.get("PEER_DOCS", "10000"))
    seed: int = 42
    chunk_words: int = 80
    chunk_overlap: int = 20
    eval_queries: int = 200
    min_recall_at_5: float = 0.5


@dg.asset(group_name="rag", kinds={"parquet"})
@timed
def raw_documents(context: dg.AssetExecutionContext, config: RagConfig) -> pa.Table:
    docs = generate(config.synthetic_docs, config.seed)
    context.log.info(f"{docs.num_rows} documents")
    return docs


@dg.asset(group_name="rag", kinds={"parquet"})
@timed
def chunks(context: dg.AssetExecutionContext, config: RagConfig, raw_documents: pa.Table) -> pa.Table:
    size, overlap = config.chunk_words, config.chunk_overlap
    out = {"chunk_id": [], "doc_id": [], "topic": [], "position": [], "text": [], "words": []}
    for doc_id, topic, text in zip(
        raw_documents["doc_id"].to_pylist(),
        raw_documents["topic"].to_pylist(),
        raw_documents["text"].to_pylist(),
    ):
        words = text.split()
        for position, (start, end) in enumerate(windows(len(words), size, overlap)):
            out["chunk_id"].append(f"{doc_id}#{position}")
            out["doc_id"].append(doc_id)
            out["topic"].append(topic)
            out["position"].append(position)
            out["text"].append(" ".join(words[start:end]))
            out["words"].append(end - start)
    context.log.info(f"{raw_documents.num_rows} documents into {len(out['chunk_id'])} chunks")
    return pa.table(
        {
            **{k: out[k] for k in ("chunk_id", "doc_id", "topic")},
            "position": pa.array(out["position"], pa.uint32()),
            "text": out["text"],
            "words": pa.array(out["words"], pa.uint32()),
        }
    )


@dg.asset(group_name="rag", kinds={"parquet"})
@timed
def embeddings(context: dg.AssetExecutionContext, chunks: pa.Table) -> pa.Table:
    vectors = embed_all(chunks["text"].to_pylist())
    context.log.info(f"embedded {len(vectors)} chunks in {DIMS} dimensions")
    flat = pa.array(vectors.reshape(-1), pa.float32())
    offsets = pa.array(np.arange(0, len(flat) + 1, DIMS, dtype=np.int32))
    return pa.table(
        {
            "chunk_id": chunks["chunk_id"],
            "doc_id": chunks["doc_id"],
            "topic": chunks["topic"],
            "vector": pa.ListArray.from_arrays(offsets, flat),
        }
    )


def _matrix(embeddings: pa.Table) -> np.ndarray:
    values = embeddings["vector"].combine_chunks().flatten()
    return values.to_numpy().reshape(-1, DIMS)


@dg.asset(group_name="rag", kinds={"json"})
@timed
def retrieval_eval(
    context: dg.AssetExecutionContext, config: RagConfig, chunks: pa.Table, embeddings: pa.Table
) -> dict:
    texts = chunks["text"].to_pylist()
    ids = chunks["chunk_id"].to_pylist()
    index = {chunk_id: i for i, chunk_id in enumerate(embeddings["chunk_id"].to_pylist())}
    n = min(max(config.eval_queries, 1), len(texts))
    stride = len(texts) / n
    sample = [int(i * stride) for i in range(n)]
    queries = []
    for i in sample:
        words = texts[i].split()
        start = max(len(words) // 2 - QUERY_WORDS // 2, 0)
        queries.append(" ".join(words[start : start + QUERY_WORDS]))
    matrix = _matrix(embeddings)
    scores = matrix @ embed_all(queries).T
    ranks = []
    for j, i in enumerate(sample):
        target = index[ids[i]]
        ranks.append(1 + int(np.count_nonzero(scores[:, j] > scores[target, j])))
    ranks = np.array(ranks)
    result = {
        "queries": n,
        "corpus_chunks": len(texts),
        "recall_at_1": float(np.mean(ranks <= 1)),
        "recall_at_5": float(np.mean(ranks <= 5)),
        "recall_at_10": float(np.mean(ranks <= 10)),
        "mrr": float(np.mean(1.0 / ranks)),
    }
    context.add_output_metadata(result)
    context.log.info(f"{n} queries over {len(texts)} chunks: {result}")
    return result


@dg.asset_check(asset=chunks)
@timed
def chunks_not_empty(chunks: pa.Table) -> dg.AssetCheckResult:
    empty = sum(1 for t in chunks["text"].to_pylist() if not t.strip())
    return dg.AssetCheckResult(passed=chunks.num_rows > 0 and empty == 0)


@dg.asset_check(asset=embeddings)
@timed
def embedding_norms(embeddings: pa.Table) -> dg.AssetCheckResult:
    norms = np.linalg.norm(_matrix(embeddings), axis=1)
    return dg.AssetCheckResult(passed=bool(np.all(np.abs(norms - 1.0) <= 1e-3)))


@dg.asset_check(asset=retrieval_eval, blocking=True)
@timed
def recall_gate(config: RagConfig, retrieval_eval: dict) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=retrieval_eval["recall_at_5"] >= config.min_recall_at_5,
        metadata={"recall_at_5": retrieval_eval["recall_at_5"]},
    )


assets = [raw_documents, chunks, embeddings, retrieval_eval]
checks = [chunks_not_empty, embedding_norms, recall_gate]


def resources(home: str) -> dict:
    return {"io_manager": ParquetIOManager(base_dir=str(Path(home, "storage")))}


defs = dg.Definitions(
    assets=assets,
    asset_checks=checks,
    resources=resources(os.environ.get("DAGSTER_HOME", ".")),
)
