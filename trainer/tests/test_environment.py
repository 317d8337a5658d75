"""The trainer's virtual environment is the one trainer/requirements.txt pins.

infra/bootstrap.ts builds it; these tests fail when a pin drifts (a stale cached venv, a package
upgraded by hand) or when the core libraries cannot do the work the trainer needs of them.
"""

from importlib.metadata import version
from pathlib import Path

import pytest

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"


def pinned():
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, wanted = line.partition("==")
            yield name, wanted


@pytest.mark.parametrize("name,wanted", list(pinned()))
def test_every_pinned_package_is_installed_at_its_pinned_version(name, wanted):
    installed = version(name)
    # torch wheels may carry a local tag such as +cpu or +cu128.
    assert installed.split("+", 1)[0] == wanted, f"{name}: installed {installed}, pinned {wanted}"


def test_a_tiny_bert_classifier_runs_forward_and_backward_on_cpu():
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        problem_type="multi_label_classification",
    )
    model = BertForSequenceClassification(config)
    ids = torch.tensor([[2, 5, 7, 3], [2, 9, 3, 0]])
    mask = (ids != 0).long()
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    out = model(input_ids=ids, attention_mask=mask, labels=labels, output_attentions=True)
    assert out.logits.shape == (2, 3)
    assert len(out.attentions) == 1
    out.loss.backward()
    assert model.classifier.weight.grad is not None


def test_onnxruntime_runs_a_model_exported_by_torch(tmp_path):
    import numpy as np
    import onnxruntime as ort
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Sigmoid()).eval()
    x = torch.randn(2, 4)
    path = tmp_path / "m.onnx"
    torch.onnx.export(
        model, (x,), str(path), input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "batch"}}, dynamo=False
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x.numpy()})
    np.testing.assert_allclose(y, model(x).detach().numpy(), atol=1e-6)
