"""The Python side of bench/inference.ts: onnxruntime (Python) on model.onnx and PyTorch eager on
the trainer's HF folder, both on the token ids the TypeScript engine produced, so all three see
identical [batch, tokens] inputs.

    python bench/inference_python.py MODEL_DIR IDS_JSON --threads N

Serves timing requests so the benchmark can interleave its rounds across engines (background
load then falls on all of them alike): one JSON request per stdin line,
`{"engine": "onnxruntime" | "torch", "batch": B}`, answered on stdout with
`{"seconds": S}` for one pass over all rows in batches of B. The first line it prints describes
the environment and the logits' agreement between the two engines on the first batch.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
import torch
import transformers
from transformers import AutoModelForSequenceClassification


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("ids_json")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    with open(args.ids_json, encoding="utf-8") as f:
        ids = np.asarray(json.load(f), dtype=np.int64)  # [rows, tokens]: equal lengths, no padding
    mask = np.ones_like(ids)

    # The same thread budget as the TypeScript engine: intra-op threads, one graph node at a time.
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(f"{args.model_dir}/model.onnx", options, providers=["CPUExecutionProvider"])
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).float().eval()

    def run_onnx(batch: int, rows: int = len(ids)) -> np.ndarray:
        """Logits of the first `rows` rows (default all), in batches of `batch`."""
        out = []
        for start in range(0, rows, batch):
            end = min(start + batch, rows)
            out.append(session.run(["logits"], {"input_ids": ids[start:end], "attention_mask": mask[start:end]})[0])
        return np.concatenate(out)

    def run_torch(batch: int, rows: int = len(ids)) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, rows, batch):
                end = min(start + batch, rows)
                logits = model(input_ids=torch.from_numpy(ids[start:end]),
                               attention_mask=torch.from_numpy(mask[start:end])).logits
                out.append(logits.numpy())
        return np.concatenate(out)

    engines = {"onnxruntime": run_onnx, "torch": run_torch}
    first = min(len(ids), 8)
    first_logits = run_onnx(first, first)
    agreement = float(np.abs(first_logits - run_torch(first, first)).max())
    print(json.dumps({"python": platform.python_version(), "onnxruntime": ort.__version__, "torch": torch.__version__,
                      "transformers": transformers.__version__, "rows": int(ids.shape[0]), "tokens": int(ids.shape[1]),
                      "onnxVsTorchMaxAbsLogit": agreement, "logits": first_logits.tolist()}), flush=True)

    for line in sys.stdin:
        request = json.loads(line)
        run = engines[request["engine"]]
        start = time.perf_counter()
        run(int(request["batch"]))
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
