"""Warm and cold latency of `ask` with the offline answerer (issue 3 targets: warm p50 ≤ 30 ms, p95 ≤ 60 ms;
a one-question `labqa ask` from a cold start ≤ 4 s).

    .venv/bin/python bench/ask_latency.py [--rounds 5] [--cold 5]

Needs an index (`labqa ingest`; LABQA_HOME as usual). Warm: every question of eval/questions.jsonl (with its
history for follow-ups) asked `--rounds` times through one Assistant. Cold: `labqa ask` as a fresh process,
`--cold` times, with where the time goes (imports, index load, answering)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LABQA = str(Path(sys.executable).with_name("labqa"))


def warm(rounds: int) -> dict[str, float]:
    from rag.assistant import Assistant
    from rag.settings import load_settings
    from rag.types import Turn

    a = Assistant(load_settings())
    a.warm()
    rows = [json.loads(x) for x in (ROOT / "eval" / "questions.jsonl").read_text().splitlines() if x.strip()]
    items = [(r["question"], [Turn(t["role"], t["content"]) for t in r.get("history", [])]) for r in rows]
    for q, h in items:  # one untimed pass: first-use caches
        a.ask(q, history=h)
    per_kind: dict[str, list[float]] = {}
    times = []
    for _ in range(rounds):
        for (q, h), r in zip(items, rows, strict=True):
            a.index.embedder.forget()  # as if nobody had asked it before: no remembered question embeddings
            t = time.perf_counter()
            a.ask(q, history=h)
            ms = (time.perf_counter() - t) * 1000
            times.append(ms)
            per_kind.setdefault(r["kind"], []).append(ms)
    out = {"questions": len(items), "asks": len(times), "p50_ms": float(np.percentile(times, 50)),
           "p95_ms": float(np.percentile(times, 95)),
           "max_ms": max(times)}
    for kind, ts in sorted(per_kind.items()):
        out[f"{kind}_p50_ms"] = float(np.percentile(ts, 50))
    return out


def cold(runs: int) -> dict[str, float]:
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([LABQA, "ask", "What is EISAM?"], check=True, capture_output=True, env=os.environ.copy())
        walls.append(time.perf_counter() - t)
    probe = (
        "import time; t=time.perf_counter()\n"
        "from rag.assistant import Assistant; from rag.settings import load_settings\n"
        "t1=time.perf_counter(); a=Assistant(load_settings()); a.warm(); t2=time.perf_counter()\n"
        "a.ask('What is EISAM?'); t3=time.perf_counter()\n"
        "print(t1-t, t2-t1, t3-t2)\n"
    )
    parts = [float(x) for x in subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                              text=True, env=os.environ.copy()).stdout.split()]
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interp = time.perf_counter() - t
    return {"runs": runs, "wall_median_s": statistics.median(walls), "wall_max_s": max(walls),
            "interpreter_s": interp, "imports_s": parts[0], "index_and_model_load_s": parts[1],
            "first_answer_s": parts[2]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cold", type=int, default=5)
    args = ap.parse_args()
    w = warm(args.rounds)
    c = cold(args.cold)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print("| warm offline ask | value |\n|---|---|")
    for k, v in w.items():
        print(f"| {k} | {v:.1f} |" if isinstance(v, float) else f"| {k} | {v} |")
    print("\n| cold `labqa ask` | seconds |\n|---|---|")
    for k, v in c.items():
        print(f"| {k} | {v:.2f} |" if isinstance(v, float) else f"| {k} | {v} |")


if __name__ == "__main__":
    main()
