"""The trainer end to end on the demo data: outputs, heads, debiased mode, checkpoints and resume,
NaN and config errors. Runs go through `main(argv)` in-process (the same code path as the command
line without a torch import per run); test_cli.py covers the real process."""

import json
import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from trainer.errors import ParityError
from trainer.export import onnx_parity
from trainer.tests.support import demo_config, demo_rows, train_in_process, write_jsonl


def test_a_baseline_multilabel_run_writes_every_output_and_reports_its_progress(tmp_path):
    run = train_in_process(demo_config(tmp_path, checkpointEvery=2, keepCheckpoints=2), tmp_path)
    assert run.code == 0, run.last
    out = tmp_path / "out"
    assert [e["step"] for e in run.of("step")] == [1, 2, 3, 4, 5]
    assert {e["of"] for e in run.of("step")} == {5}
    assert [e["step"] for e in run.of("checkpoint")] == [2, 4, 5]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-4", "step-5"]  # keepCheckpoints 2
    assert [e["event"] for e in run.events][:3] == ["phase", "start", "step"]
    assert run.of("start")[0]["of"] == 5 and run.of("start")[0]["entity_tokens"] > 0
    assert [e["event"] for e in run.events[-6:]] == ["epoch", "checkpoint", "cost", "phase", "phase", "done"]
    done = run.last
    assert done["outputs"]["onnx"] == str(out / "model.onnx")
    for key in ("macro_f1", "micro_f1", "loss", "onnx_max_abs_diff"):
        assert key in done["metrics"]
    assert done["metrics"]["onnx_max_abs_diff"] < 1e-4

    for name in (
        "model.onnx",
        "tokenizer.json",
        "tokenizer_config.json",
        "config.json",
        "model.safetensors",
        "metrics.jsonl",
        "train_config.json",
    ):
        assert (out / name).is_file(), name
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e["event"] for e in lines] == ["step"] * 5 + ["epoch", "cost"]
    assert lines[0]["loss_all"] == run.of("step")[0]["loss_all"]
    resolved = json.loads((out / "train_config.json").read_text())
    assert (resolved["task"], resolved["numLabels"], resolved["batchSize"]) == ("multilabel", 3, 16)

    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert model.config.problem_type == "multi_label_classification"
    hf_tokenizer = AutoTokenizer.from_pretrained(out)
    texts = [r["text"] for r in demo_rows("test")[:6]]
    enc = hf_tokenizer(texts, padding=True, return_tensors="pt")
    assert (enc["attention_mask"] == 0).any(), "the batch must exercise padding"
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "embedding"]
    logits, embedding = session.run(
        None, {"input_ids": enc["input_ids"].numpy(), "attention_mask": enc["attention_mask"].numpy()}
    )
    with torch.no_grad():
        reference = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.numpy()
    assert np.abs(logits - reference).max() < 1e-4
    assert embedding.shape == (6, 32)
    standalone = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert [e.ids for e in standalone.encode_batch(texts)] == hf_tokenizer(texts)["input_ids"]


def test_a_single_label_run_trains_a_softmax_head(tmp_path):
    run = train_in_process(demo_config(tmp_path, multiclass=True), tmp_path)
    assert run.code == 0, run.last
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["problem_type"] == "single_label_classification"
    assert len(config["id2label"]) == 3
    assert json.loads((tmp_path / "out" / "train_config.json").read_text())["task"] == "multiclass"
    assert 0 <= run.last["metrics"]["micro_f1"] <= 1


def test_a_debiased_run_logs_each_term_and_their_sum_is_the_loss(tmp_path):
    run = train_in_process(demo_config(tmp_path, mode="debiased", lambdaDebias=10.0), tmp_path)
    assert run.code == 0, run.last
    for e in run.of("step"):
        assert e["loss_mask"] > 0 and e["loss_debias"] >= 0
        assert e["loss"] == pytest.approx(e["loss_all"] + e["loss_mask"] + 10.0 * e["loss_debias"], rel=1e-5)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    # Like the baseline: L_debias reads the maps before dropout, so dropout need not differ.
    assert config["attention_probs_dropout_prob"] == 0.1


def test_hard_negatives_join_the_training_rows_with_their_weight(tmp_path):
    extra = write_jsonl(tmp_path / "hard.jsonl", [{**r, "id": "hn-" + r["id"]} for r in demo_rows("test")[:8]])
    run = train_in_process(demo_config(tmp_path, hardNegatives={"path": str(extra), "weight": 2.0}), tmp_path)
    assert run.code == 0, run.last
    assert run.last["metrics"]["train_rows"] == 88


def test_an_empty_hard_negatives_file_adds_no_rows_and_is_no_error(tmp_path):
    """Mining may find nothing; the run that trains on its output still trains."""
    empty = tmp_path / "hard.jsonl"
    empty.write_text("", encoding="utf-8")
    run = train_in_process(demo_config(tmp_path, hardNegatives={"path": str(empty)}), tmp_path)
    assert run.code == 0, run.last
    assert run.last["metrics"]["train_rows"] == 80


def test_resuming_from_a_checkpoint_gives_the_uninterrupted_runs_result(tmp_path):
    config = demo_config(tmp_path, mode="debiased", epochs=2, checkpointEvery=3, keepCheckpoints=0)
    first = train_in_process(config, tmp_path)
    assert first.code == 0, first.last
    assert [e["step"] for e in first.of("checkpoint")] == [3, 5, 6, 9, 10]
    checkpoint = tmp_path / "out" / "checkpoints" / "step-3"  # mid-epoch: the sampler position matters

    resumed = train_in_process(
        {**config, "outputDir": str(tmp_path / "resumed")}, tmp_path, resume=checkpoint, name="resume.json"
    )
    assert resumed.code == 0, resumed.last
    assert [e["step"] for e in resumed.of("step")] == list(range(4, 11))
    for a, b in zip(first.of("step")[3:], resumed.of("step")):
        for term in ("loss", "loss_all", "loss_mask", "loss_debias"):
            assert abs(a[term] - b[term]) <= 1e-6, (a["step"], term)
    assert abs(first.of("step")[-1]["loss"] - resumed.of("step")[-1]["loss"]) <= 1e-6
    for a, b in zip(first.of("epoch"), resumed.of("epoch"), strict=True):  # train_loss spans the whole epoch
        for key in ("train_loss", "loss", "macro_f1", "micro_f1"):
            assert abs(a["metrics"][key] - b["metrics"][key]) <= 1e-6, (a["epoch"], key)
    weights_a = load_file(tmp_path / "out" / "model.safetensors")
    weights_b = load_file(tmp_path / "resumed" / "model.safetensors")
    assert all(torch.allclose(weights_a[k], weights_b[k], atol=1e-6) for k in weights_a)
    history = [json.loads(line) for line in (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in history if e["event"] == "step"] == list(range(1, 11))


def test_a_resume_refuses_a_config_that_changes_what_the_run_computes(tmp_path):
    config = demo_config(tmp_path, checkpointEvery=2)
    assert train_in_process(config, tmp_path).code == 0
    run = train_in_process(
        {**config, "lr": 5e-4}, tmp_path, resume=tmp_path / "out" / "checkpoints" / "step-2", name="changed.json"
    )
    assert run.code == 2
    assert (run.last["event"], run.last["kind"], run.last["key"]) == ("error", "config", "lr")


@pytest.mark.parametrize("overrides,step", [({"debug": {"nanAtStep": 2}}, 2), ({"lr": 1e30}, None)])
def test_a_nan_loss_stops_the_run_with_exit_code_3(tmp_path, overrides, step):
    run = train_in_process(demo_config(tmp_path, checkpointEvery=1, **overrides), tmp_path)
    assert run.code == 3
    assert (run.last["event"], run.last["kind"]) == ("error", "nan")
    if step is not None:
        assert (run.last["step"], run.last["term"]) == (step, "loss")
    failed_at = run.last["step"]
    assert all(e["step"] < failed_at for e in run.of("checkpoint")), "no checkpoint of a diverged step"
    assert all(math.isfinite(e["loss"]) for e in run.of("step"))


def _bad_width_rows():
    rows = demo_rows("train")
    rows[2] = {**rows[2], "labels": [0, 1]}
    return rows


@pytest.mark.parametrize(
    "change,kind,where",
    [
        (lambda c, p: {**c, "batchSze": 8}, "config", {"key": "batchSze"}),
        (lambda c, p: {**c, "scratch": {"hiden": 8}}, "config", {"key": "scratch.hiden"}),
        (lambda c, p: {**c, "trainFile": str(p / "missing.jsonl")}, "config", {"key": "trainFile"}),
        (lambda c, p: {**c, "epochs": "3"}, "config", {"key": "epochs"}),
        (lambda c, p: {**c, "mode": "fair"}, "config", {"key": "mode"}),
        (
            lambda c, p: {**c, "trainFile": str(write_jsonl(p / "w.jsonl", _bad_width_rows()))},
            "data",
            {"line": 3, "id": "train-2"},
        ),
    ],
)
def test_a_bad_config_or_row_exits_2_with_an_error_naming_it(tmp_path, change, kind, where):
    run = train_in_process(change(demo_config(tmp_path), tmp_path), tmp_path)
    assert run.code == 2
    assert [e["event"] for e in run.events if e["event"] != "phase"] == ["error"]
    assert run.last["kind"] == kind
    for key, value in where.items():
        assert run.last[key] == value
    assert not (tmp_path / "out").exists()


def test_an_unknown_key_suggests_the_right_one(tmp_path):
    run = train_in_process({**demo_config(tmp_path), "batchSze": 8}, tmp_path)
    assert "did you mean 'batchSize'" in run.last["message"]


def test_onnx_parity_fails_when_the_exported_graph_and_the_model_disagree(tmp_path):
    assert train_in_process(demo_config(tmp_path, maxSteps=1), tmp_path).code == 0
    out = tmp_path / "out"
    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    with torch.no_grad():
        model.classifier.bias.add_(0.01)
    tokenizer = AutoTokenizer.from_pretrained(out)
    enc = tokenizer(["여자는 간다", "형이 버스를 탄다"], padding=True, return_tensors="pt")
    batch = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    with pytest.raises(ParityError, match="ONNX logits differ"):
        onnx_parity(model, out / "model.onnx", [batch], 1e-4)
    assert onnx_parity(model, out / "model.onnx", [batch], 0.1)["onnx_max_abs_diff"] == pytest.approx(0.01, abs=1e-4)


def test_a_fresh_run_into_a_used_output_folder_drops_the_earlier_runs_checkpoints(tmp_path):
    config = demo_config(tmp_path, checkpointEvery=2, keepCheckpoints=2)
    assert train_in_process(config, tmp_path).code == 0
    assert train_in_process({**config, "maxSteps": 2}, tmp_path).code == 0
    assert sorted(p.name for p in (tmp_path / "out" / "checkpoints").iterdir()) == ["step-2"]
