"""Rewrites a model.onnx the way onnxruntime's transformer optimizer does for deployment (fused
EmbedLayerNormalization, Attention, SkipLayerNormalization; ids cast to int32 inside the graph):
a graph fairline's own export never produces, to hold the engine's ONNX reading to.

    python test/inference/optimize_onnx.py IN.onnx OUT.onnx --heads N --hidden N
"""

from __future__ import annotations

import argparse
import sys

from onnxruntime.transformers import optimizer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("source")
    parser.add_argument("target")
    parser.add_argument("--heads", type=int, required=True)
    parser.add_argument("--hidden", type=int, required=True)
    args = parser.parse_args()
    model = optimizer.optimize_model(
        args.source, model_type="bert", num_heads=args.heads, hidden_size=args.hidden, opt_level=1
    )
    fused = {n.op_type for n in model.model.graph.node}
    if "EmbedLayerNormalization" not in fused:
        print(f"the optimizer fused no embedding (ops: {sorted(fused)})", file=sys.stderr)
        return 1
    model.save_model_to_file(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
