"""The Python side of bench/inference.ts: onnxruntime (Python) on model.onnx and PyTorch eager on
the trainer's HF folder, each timed from raw text to probabilities like the TypeScript engine:
tokenization with `tokenizers` on the trainer's tokenizer.json (the file the TS engine reads,
truncating at maxLength), padding per batch, the model, then sigmoid.

    python bench/inference_python.py MODEL_DIR TEXTS_JSON --threads N

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
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir")
    parser.add_argument("texts_json")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    with open(args.texts_json, encoding="utf-8") as f:
        texts = json.load(f)
    tokenizer = Tokenizer.from_file(f"{args.model_dir}/tokenizer.json")  # truncates at the model's maxLength
    pad_id = (
        tokenizer.token_to_id("[PAD]") if tokenizer.token_to_id("[PAD]") is not None else tokenizer.token_to_id("<pad>")
    )

    def encode(batch_texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """ids and attention mask [batch, longest], padded with the model's pad id."""
        encodings = tokenizer.encode_batch(batch_texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1
        return ids, mask

    # The same thread budget as the TypeScript engine: intra-op threads, one graph node at a time.
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(f"{args.model_dir}/model.onnx", options, providers=["CPUExecutionProvider"])
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    model = AutoModelForSequenceClassification.from_pretrained(args.model_dir).float().eval()

    def run_onnx(batch: int, rows: int = len(texts)) -> tuple[np.ndarray, np.ndarray]:
        """(logits, probabilities) of the first `rows` texts (default all), in batches of `batch`."""
        out = []
        for start in range(0, rows, batch):
            ids, mask = encode(texts[start : min(start + batch, rows)])
            out.append(session.run(["logits"], {"input_ids": ids, "attention_mask": mask})[0])
        logits = np.concatenate(out)
        return logits, 1 / (1 + np.exp(-logits))

    def run_torch(batch: int, rows: int = len(texts)) -> tuple[np.ndarray, np.ndarray]:
        out = []
        with torch.inference_mode():
            for start in range(0, rows, batch):
                ids, mask = encode(texts[start : min(start + batch, rows)])
                out.append(model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits.numpy())
        logits = np.concatenate(out)
        return logits, 1 / (1 + np.exp(-logits))

    engines = {"onnxruntime": run_onnx, "torch": run_torch}
    first = min(len(texts), 8)
    first_logits = run_onnx(first, first)[0]
    agreement = float(np.abs(run_onnx(first, first)[1] - run_torch(first, first)[1]).max())
    print(
        json.dumps(
            {
                "python": platform.python_version(),
                "onnxruntime": ort.__version__,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "rows": len(texts),
                "tokens": len(tokenizer.encode(texts[0]).ids),
                "onnxVsTorchMaxAbsProbability": agreement,
                "logits": first_logits.tolist(),
            }
        ),
        flush=True,
    )

    for line in sys.stdin:
        request = json.loads(line)
        run = engines[request["engine"]]
        start = time.perf_counter()
        run(int(request["batch"]))
        print(json.dumps({"seconds": time.perf_counter() - start}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
