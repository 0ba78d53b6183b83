"""Logistic regression's penalty chosen by data (issue 29), before and after, on the same split as any_csv.py.

    python benchmarks/logistic_penalty.py CHECKOUT [DATASET ...] > out.jsonl

Run from ``CHECKOUT`` (``python -m titanic_lab`` must import that checkout's package; its ``benchmarks/any_csv.py``
makes the split and runs the commands). For each dataset (binary: ``linear`` and ``sigmoid``; multiclass:
``linear``, the softmax): ``train --valid-pct 0`` and ``predict --sheet`` per model
(:func:`any_csv.run_dataset`, no verify), the held-out accuracy beside LogisticRegressionCV's on the same
files, and per model the l2 trained with, the optimizer, how training stopped and how the penalty was
chosen (``train --json``). One JSON line per dataset, with the load average after it.
"""

import json
import os
import sys
import time

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, "benchmarks"))
import any_csv  # noqa: E402
from datasets import available  # noqa: E402

MODELS = {"binary": ["linear", "sigmoid"], "multiclass": ["linear"]}

datasets, skipped = available(sys.argv[2:] or None)
for ds in datasets:
    if ds.task not in MODELS:
        continue
    started = time.perf_counter()
    o = any_csv.run_dataset(ds, MODELS[ds.task], verify=False, baselines=["LogisticRegressionCV"])
    models = (o.train_json or {}).get("models") or {}
    print(json.dumps({
        "name": o.name, "scores": o.scores, "baselines": o.baselines, "error": o.error,
        "train_s": round(o.seconds, 1), "all_s": round(time.perf_counter() - started, 1),
        **{key: {m: f(r) for m, r in models.items()} for key, f in (
            ("l2", lambda r: r["settings"]["l2"]), ("optimizer", lambda r: r["settings"]["optimizer"]),
            ("stop", lambda r: r["stop_reason"]), ("penalty", lambda r: r.get("penalty", "")))},
        "load": open("/proc/loadavg").read().split()[:3]}), flush=True)
print(json.dumps({"skipped": skipped}))
