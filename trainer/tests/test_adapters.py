"""LoRA adapters (trainer/adapters.py) end to end: only the adapter and the head train, the saved
adapter and the merged model load with PEFT and transformers and agree, a resume continues the
adapter, and the config refuses bad adapter values."""

import json

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from trainer.tests.support import demo_config, demo_rows, train_in_process

HIDDEN, LAYERS, LABELS, R = 32, 2, 3, 4
SCRATCH = {"hidden": HIDDEN, "layers": LAYERS, "heads": 2, "intermediate": 64, "vocabSize": 400}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A tiny pretrained model to adapt: a full fine-tuning run of the scratch BERT (its output is a
    loadable HF folder), so the adapter has base weights that exist on disk."""
    tmp = tmp_path_factory.mktemp("base")
    run = train_in_process(demo_config(tmp, scratch=SCRATCH), tmp)
    assert run.code == 0, run.last
    return tmp / "out"


def lora_config(tmp_path, base, **overrides):
    adapter = {"type": "lora", "r": R, "alpha": 8, "dropout": 0.0}
    return demo_config(tmp_path, model=str(base), lr=1e-2, adapter=adapter, **overrides)


def test_lora_trains_only_the_adapter_and_the_head_and_both_outputs_load_and_agree(tmp_path, base):
    run = train_in_process(lora_config(tmp_path, base), tmp_path)
    assert run.code == 0, run.last
    out = tmp_path / "out"
    metrics = run.last["metrics"]

    # The count from the shapes: each of the 2 targets (query, value: Linear(H, H)) per layer gets
    # A (r×H) and B (H×r); the head Linear(H, labels) trains in full (weight and bias).
    lora = LAYERS * 2 * (R * HIDDEN + HIDDEN * R)
    head = HIDDEN * LABELS + LABELS
    assert metrics["trainable_parameters"] == lora + head
    base_model = AutoModelForSequenceClassification.from_pretrained(base)
    base_total = sum(p.numel() for p in base_model.parameters())
    assert metrics["total_parameters"] == base_total + lora + head  # PEFT keeps the head's original beside its copy
    assert run.of("start")[0]["trainable_parameters"] == lora + head
    assert metrics["peak_memory_kind"] == "rss" and metrics["peak_memory_bytes"] > 10_000_000
    assert metrics["train_seconds"] > 0
    assert run.last["outputs"]["adapter"] == str(out / "adapter")

    # The merged model differs from the base exactly in the adapted projections and the head.
    merged_weights = load_file(out / "model.safetensors")
    base_weights = load_file(base / "model.safetensors")
    changed = {k for k in base_weights if not torch.equal(base_weights[k], merged_weights[k])}
    expected = {f"bert.encoder.layer.{i}.attention.self.{m}.weight" for i in range(LAYERS) for m in ("query", "value")}
    assert changed == expected | {"classifier.weight", "classifier.bias"}

    # The adapter loads over the base with PEFT, the merged folder with transformers; same logits.
    adapted = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base), out / "adapter")
    merged = AutoModelForSequenceClassification.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    enc = tokenizer([r["text"] for r in demo_rows("test")[:8]], padding=True, return_tensors="pt")
    with torch.no_grad():
        a = adapted.eval()(**enc).logits
        b = merged.eval()(**enc).logits
    assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    assert metrics["merge_max_abs_diff"] < 1e-5
    assert metrics["onnx_max_abs_diff"] < 1e-4  # the ONNX export is of the merged model
    assert json.loads((out / "adapter" / "adapter_config.json").read_text())["r"] == R


def test_full_fine_tuning_reports_every_parameter_as_trainable_and_no_adapter(tmp_path, base):
    run = train_in_process(demo_config(tmp_path, model=str(base)), tmp_path)
    assert run.code == 0, run.last
    m = run.last["metrics"]
    assert m["trainable_parameters"] == m["total_parameters"] > 0
    assert run.last["outputs"]["adapter"] is None
    assert not (tmp_path / "out" / "adapter").exists()


def test_a_lora_run_resumed_from_a_mid_epoch_checkpoint_ends_as_the_uninterrupted_one(tmp_path, base):
    config = lora_config(tmp_path, base, epochs=2, checkpointEvery=3, keepCheckpoints=0)
    first = train_in_process(config, tmp_path)
    assert first.code == 0, first.last
    checkpoint = tmp_path / "out" / "checkpoints" / "step-3"
    assert (checkpoint / "adapter_model.safetensors").is_file()  # a LoRA checkpoint holds the adapter and head
    assert not (checkpoint / "model.safetensors").exists()
    resumed = train_in_process(
        {**config, "outputDir": str(tmp_path / "resumed")}, tmp_path, resume=checkpoint, name="resume.json"
    )
    assert resumed.code == 0, resumed.last
    assert [e["step"] for e in resumed.of("step")] == list(range(4, 11))
    # The training time counts the first process's steps too (carried in the checkpoint).
    assert resumed.last["metrics"]["train_seconds"] > resumed.of("step")[-1]["elapsed_s"]
    for a, b in zip(first.of("step")[3:], resumed.of("step")):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, a["step"]
    a = load_file(tmp_path / "out" / "model.safetensors")
    b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.parametrize(
    "adapter, key",
    [
        ({"type": "lora", "r": 0}, "adapter.r"),
        ({"type": "lora", "alpha": 0}, "adapter.alpha"),
        ({"type": "lora", "dropout": 1}, "adapter.dropout"),
        ({"type": "lora", "targetModules": []}, "adapter.targetModules"),
        ({"type": "lora", "targetModules": ["no_such_layer"]}, "adapter.targetModules"),
        ({"type": "prefix"}, "adapter.type"),
        ({"type": "lora", "rank": 4}, "adapter.rank"),
    ],
)
def test_a_bad_adapter_exits_2_naming_its_key(tmp_path, base, adapter, key):
    run = train_in_process(demo_config(tmp_path, model=str(base), adapter=adapter), tmp_path)
    assert run.code == 2, run.last
    assert run.last["event"] == "error" and key in run.last["message"], run.last
