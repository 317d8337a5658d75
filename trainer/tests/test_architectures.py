"""DeBERTa-v2 and RoBERTa encoders load from a local folder (the real hub/local loading code) and
train a step in both modes, attention maps included, then export an ONNX model that matches."""

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoTokenizer,
    DebertaV2Config,
    DebertaV2Model,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaModel,
)

from trainer.data import Row, encode
from trainer.modeling import train_wordpiece
from trainer.tests.support import demo_config, demo_rows, train_in_process

SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


def texts():
    return [r["text"] for r in demo_rows("train")]


def save_deberta(path):
    """A tiny DeBERTa-v2 encoder (relative attention, c2p + p2c) with a WordPiece tokenizer."""
    tokenizer = train_wordpiece(texts(), vocab_size=300, max_length=32)
    config = DebertaV2Config(
        vocab_size=len(tokenizer),
        max_position_embeddings=64,
        relative_attention=True,
        pos_att_type=["p2c", "c2p"],
        position_buckets=16,
        max_relative_positions=32,
        pad_token_id=tokenizer.pad_token_id,
        type_vocab_size=0,
        **SIZE,
    )
    DebertaV2Model(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


def save_roberta(path):
    """A tiny RoBERTa encoder with a byte-level BPE tokenizer (<s> <pad> </s> <unk> <mask>)."""
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(
        texts(),
        trainers.BpeTrainer(
            vocab_size=400,
            special_tokens=special,
            show_progress=False,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=32,
    )
    config = RobertaConfig(
        vocab_size=tok.get_vocab_size(),
        max_position_embeddings=64 + 2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        type_vocab_size=1,
        **SIZE,
    )
    RobertaModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)


@pytest.mark.parametrize("mode", ["baseline", "debiased"])
@pytest.mark.parametrize("save,model_type", [(save_deberta, "deberta-v2"), (save_roberta, "roberta")])
def test_a_local_encoder_trains_a_step_and_exports(tmp_path, save, model_type, mode):
    encoder = tmp_path / "encoder"
    save(encoder)
    rows = [
        Row(r["id"], r["text"], r["labels"], [(e["start"], e["end"], e["type"]) for e in r["entities"]])
        for r in demo_rows("train")
    ]
    assert any(any(m) for m in encode(rows, AutoTokenizer.from_pretrained(encoder), 32).entity_mask)
    run = train_in_process(demo_config(tmp_path, model=str(encoder), mode=mode, maxSteps=1), tmp_path)
    assert run.code == 0, run.last
    (step,) = run.of("step")
    if mode == "debiased":
        assert step["loss_mask"] > 0 and step["loss_debias"] >= 0
    assert run.last["metrics"]["onnx_max_abs_diff"] < 1e-4
    assert json.loads((tmp_path / "out" / "config.json").read_text())["model_type"] == model_type
