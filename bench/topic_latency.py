"""Warm latency of topic questions only, per retriever, on the store of LABQA_HOME:

    LABQA_HOME=bench/out/stores/start-10k-embedded-int8/home LABQA_EMBED_PRECISION=int8 \
        .venv/bin/python bench/topic_latency.py bench/out/corpus-10k/questions.json

scale.py's query child mixes in "What is <name>?" questions, which the catalog's name linker now answers without
retrieval in about 1 ms, so its p50 no longer measures retrieval; this one asks only the topic questions
(a warm-up pass, then 3 measured passes).
"""
import json
import resource
import sys
import time

import numpy as np

from rag.assistant import Assistant
from rag.settings import load_settings

qs = json.load(open(sys.argv[1]))["topic"]
t = time.perf_counter()
a = Assistant(load_settings())
a.warm()
load = time.perf_counter() - t
out = {"load_s": round(load, 2)}
for mode in ("dense", "bm25", "hybrid"):
    for q in qs:
        a.ask(q, mode=mode, use_metadata=False)
    tot, ret = [], []
    for _ in range(3):
        for q in qs:
            t0 = time.perf_counter()
            ans = a.ask(q, mode=mode, use_metadata=False)
            tot.append((time.perf_counter() - t0) * 1000)
            ret.append(ans.timings_ms.get("retrieve_ms", 0))
    out[mode] = {"n": len(tot), "p50_ms": round(float(np.percentile(tot, 50)), 1),
                 "p95_ms": round(float(np.percentile(tot, 95)), 1), "retrieve_p50_ms": round(float(np.percentile(ret, 50)), 1)}
out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
print(json.dumps(out))
