"""The sentence-embedding mode (trainer/embedding.py): the MultipleNegativesRankingLoss against
the formula worked by hand and against sentence-transformers, and a real run whose output folder
sentence-transformers loads and embeds with exactly as the trainer does."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer.embedding import Embedder, embed, mean_pool, mnrl_loss, read_pair_rows
from trainer.errors import DataError

from support import train_in_process, write_jsonl

R = 1 / math.sqrt(2)

# A 3-pair batch in 2-d: anchors, their positives, one hard negative each.
ANCHORS = [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]
POSITIVES = [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
NEGATIVES = [[-1.0, 0.0], [0.0, -1.0], [1.0, -1.0]]
# cos(a_i, c_j) written out by hand, candidates c = p1 p2 p3 n1 n2 n3.
COS = [
    [1.0, R, 0.0, -1.0, 0.0, R],  # a1 = (1, 0)
    [0.0, R, 1.0, 0.0, -1.0, -R],  # a2 = (0, 1)
    [R, 1.0, R, -R, -R, 0.0],  # a3 = (1, 1)/√2
]


def hand_loss(scale: float, columns: int) -> float:
    """(1/B) Σ_i [ −scale·cos(a_i, p_i) + log Σ_j exp(scale·cos(a_i, c_j)) ] over the first `columns` candidates."""
    total = 0.0
    for i in range(3):
        total += -scale * COS[i][i] + math.log(sum(math.exp(scale * COS[i][j]) for j in range(columns)))
    return total / 3


@pytest.mark.parametrize(
    "scale, with_negatives",
    [(20.0, True), (20.0, False), (1.0, True), (5.0, False)],
)
def test_the_loss_on_a_three_pair_batch_equals_the_formula_worked_by_hand(scale, with_negatives):
    negatives = torch.tensor(NEGATIVES) if with_negatives else torch.zeros((0, 2))
    got = mnrl_loss(torch.tensor(ANCHORS), torch.tensor(POSITIVES), negatives, scale).item()
    assert got == pytest.approx(hand_loss(scale, 6 if with_negatives else 3), rel=1e-6)


def test_the_default_scale_numbers_are_these():
    # the same batch at scale 20, summed term by term: a reader can check one number by hand
    row1 = -20 + math.log(math.exp(20) + math.exp(20 * R) + 1 + math.exp(-20) + 1 + math.exp(20 * R))
    row2 = -20 * R + math.log(1 + math.exp(20 * R) + math.exp(20) + 1 + math.exp(-20) + math.exp(-20 * R))
    row3 = -20 * R + math.log(math.exp(20 * R) + math.exp(20) + math.exp(20 * R) + 2 * math.exp(-20 * R) + 1)
    got = mnrl_loss(torch.tensor(ANCHORS), torch.tensor(POSITIVES), torch.tensor(NEGATIVES), 20.0).item()
    assert got == pytest.approx((row1 + row2 + row3) / 3, rel=1e-6)


@pytest.mark.parametrize("negatives_per_anchor", [0, 1, 3])
def test_the_loss_agrees_with_sentence_transformers_on_random_embeddings(negatives_per_anchor):
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    g = torch.Generator().manual_seed(7 + negatives_per_anchor)
    batch, dim = 16, 24
    a, p = torch.randn(batch, dim, generator=g), torch.randn(batch, dim, generator=g)
    negatives = [torch.randn(batch, dim, generator=g) for _ in range(negatives_per_anchor)]
    reference = MultipleNegativesRankingLoss(torch.nn.Identity(), scale=13.0)
    expected = reference.compute_loss_from_embeddings([a, p, *negatives], None).item()
    ours = mnrl_loss(a, p, torch.cat(negatives) if negatives else torch.zeros((0, dim)), 13.0).item()
    assert ours == pytest.approx(expected, rel=1e-5)


def test_mean_pooling_ignores_padding_tokens():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]]])
    assert mean_pool(hidden, torch.tensor([[1, 1, 0]])).tolist() == [[2.0, 3.0]]


PAIRS = [
    ("남자가 공을 찬다", "한 남자가 축구를 한다", "여자가 잠을 잔다"),
    ("아이가 책을 읽는다", "어린이가 독서 중이다", "아이가 뛰어논다"),
    ("고양이가 창가에 앉아 있다", "창문 옆에 고양이가 있다", "개가 짖는다"),
    ("비가 많이 온다", "폭우가 내린다", "날씨가 맑다"),
    ("학생이 시험을 본다", "학생이 시험 중이다", "선생님이 쉰다"),
    ("요리사가 음식을 만든다", "주방에서 요리를 한다", "손님이 나간다"),
]


def pair_rows(negatives: bool = True) -> list[dict]:
    return [
        {
            "id": f"p{i}",
            "text": a,
            "labels": [],
            "pair": {"text": p},
            **({"meta": {"negatives": [n]}} if negatives else {}),
        }
        for i, (a, p, n) in enumerate(PAIRS)
    ]


def embedding_config(tmp_path: Path, **overrides) -> dict:
    train = write_jsonl(tmp_path / "pairs.jsonl", pair_rows())
    return {
        "trainFile": str(train),
        "validationFile": str(train),
        "outputDir": str(tmp_path / "out"),
        "mode": "embedding",
        "textPrefix": "query: ",
        "lr": 1e-3,
        "epochs": 2,
        "batchSize": 4,
        "maxLength": 32,
        "logEvery": 0,
        "scratch": {"hidden": 32, "layers": 2, "heads": 2, "intermediate": 64, "vocabSize": 300},
    } | overrides


def test_an_embedding_run_writes_a_folder_that_sentence_transformers_loads_and_embeds_with_alike(tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    run = train_in_process(embedding_config(tmp_path), tmp_path)
    assert run.code == 0, run.events
    assert [e["step"] for e in run.of("step")] == [1, 2, 3, 4]  # 6 pairs in batches of 4, 2 epochs
    done = run.last["metrics"]
    assert done["onnx_embedding_max_abs_diff"] < 1e-4 and done["embedding_dimension"] == 32
    out = tmp_path / "out"
    for name in [
        "modules.json",
        "1_Pooling/config.json",
        "2_Normalize",
        "config_sentence_transformers.json",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "model.onnx",
        "train_config.json",
    ]:
        assert (out / name).exists(), name
    assert json.loads((out / "train_config.json").read_text())["effectiveLoss"]["values"] == {"scale": 20.0}

    texts = [a for a, _, _ in PAIRS] + ["처음 보는 문장이 하나 더 있다, 조금 길게 써서 패딩이 생기게"]
    st = SentenceTransformer(str(out), device="cpu")
    by_st = st.encode(texts, convert_to_numpy=True)  # the default prompt "query: " comes from the folder
    ours = embed(
        Embedder(AutoModel.from_pretrained(out)),
        AutoTokenizer.from_pretrained(out),
        ["query: " + t for t in texts],
        32,
        8,
    ).numpy()
    np.testing.assert_allclose(by_st, ours, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)

    import onnxruntime as ort

    enc = AutoTokenizer.from_pretrained(out)(["query: " + t for t in texts], padding=True, return_tensors="np")
    (onnx_out,) = ort.InferenceSession(str(out / "model.onnx")).run(
        ["embedding"],
        {"input_ids": enc["input_ids"].astype(np.int64), "attention_mask": enc["attention_mask"].astype(np.int64)},
    )
    np.testing.assert_allclose(onnx_out, ours, atol=1e-4)


def test_zero_epochs_export_the_model_as_it_is(tmp_path):
    run = train_in_process(embedding_config(tmp_path, epochs=0), tmp_path)
    assert run.code == 0, run.events
    assert run.of("step") == [] and run.last["metrics"]["step"] == 0
    for name in ["model.onnx", "metrics.jsonl", "modules.json"]:  # the train stage uploads each
        assert (tmp_path / "out" / name).is_file(), name


def test_training_lowers_the_loss_on_the_pairs(tmp_path):
    run = train_in_process(embedding_config(tmp_path, epochs=8, batchSize=6, warmupRatio=0.0), tmp_path)
    assert run.code == 0, run.events
    epochs = [e["metrics"]["loss"] for e in run.of("epoch")]
    assert epochs[-1] < epochs[0]


@pytest.mark.parametrize(
    "row, message",
    [
        ({"id": "x", "text": "a", "labels": []}, "pair.text"),
        ({"id": "x", "text": "a", "labels": [], "pair": {"text": "b"}, "meta": {"negatives": "c"}}, "meta.negatives"),
        ({"id": "", "text": "a", "labels": [], "pair": {"text": "b"}}, "id must be"),
    ],
)
def test_a_bad_pair_row_is_a_data_error_naming_file_and_line(tmp_path, row, message):
    path = write_jsonl(tmp_path / "bad.jsonl", pair_rows(False)[:1] + [row])
    with pytest.raises(DataError) as caught:
        read_pair_rows(path)
    assert message in caught.value.message
    assert caught.value.context["path"].endswith("bad.jsonl") and caught.value.context["line"] == 2


def test_the_cli_refuses_a_resume_in_embedding_mode_with_a_config_error(tmp_path):
    config = embedding_config(tmp_path)
    (tmp_path / "ck").mkdir()
    run = train_in_process(config, tmp_path, resume=tmp_path / "ck")
    assert run.code == 2 and run.last["event"] == "error" and "cannot resume" in run.last["message"]


@pytest.mark.parametrize("change, key", [({"mode": "baseline", "epochs": 0}, "epochs"), ({"scale": 0}, "scale")])
def test_zero_epochs_outside_embedding_mode_and_a_non_positive_scale_are_config_errors(tmp_path, change, key):
    config = embedding_config(tmp_path) | change
    run = train_in_process(config, tmp_path)
    assert run.code == 2 and run.last["kind"] == "config" and run.last["key"] == key
