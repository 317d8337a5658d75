"""Rows, entity-token masks, x̂, and the seeded length-grouped batches."""

import json

import pytest
import torch

from trainer.data import LabelSpec, Row, collate, encode, entity_token_mask, epoch_batches, label_spec, read_rows
from trainer.errors import DataError
from trainer.modeling import train_wordpiece

from trainer.tests.support import demo_rows, write_jsonl


@pytest.fixture(scope="module")
def tokenizer():
    texts = [r["text"] for r in demo_rows("train")]
    return train_wordpiece(texts, vocab_size=300, max_length=32)


def rows_of(dicts):
    return [
        Row(d["id"], d["text"], d["labels"], [(e["start"], e["end"], e["type"]) for e in d["entities"]]) for d in dicts
    ]


def test_x_hat_differs_from_x_exactly_at_the_entity_tokens_and_x_is_left_untouched(tokenizer):
    rows = rows_of(demo_rows("train")[:16])
    data = encode(rows, tokenizer, max_length=32)
    spec = LabelSpec("multilabel", 3, ["a", "b", "c"])
    batch = collate(data, list(range(16)), spec, tokenizer.pad_token_id, tokenizer.mask_token_id)
    x, x_hat, entity = batch["input_ids"], batch["input_ids_hat"], batch["entity_mask"]
    assert x_hat.data_ptr() != x.data_ptr()
    assert entity.any(), "the demo sentences contain identity terms"
    assert torch.equal(x != x_hat, entity)
    assert (x_hat[entity] == tokenizer.mask_token_id).all()
    assert torch.equal(x_hat[~entity], x[~entity])
    # x still holds the original ids: re-collating gives the same tensor, with no mask token in it
    assert torch.equal(x, collate(data, list(range(16)), spec, tokenizer.pad_token_id, None)["input_ids"])
    assert not (x == tokenizer.mask_token_id).any()


def test_every_sub_token_of_an_entity_is_masked_and_nothing_else(tokenizer):
    text = "여학생들은 원래 생각이 없어"
    row = Row("r", text, [1, 0, 0], [(0, 3, "gender")])
    data = encode([row], tokenizer, max_length=32)
    enc = tokenizer(text, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"])
    masked = [tok for tok, m in zip(tokens, data.entity_mask[0]) if m]
    overlapping = [tok for tok, (s, e) in zip(tokens, enc["offset_mapping"]) if e > s and s < 3 and e > 0]
    assert masked == overlapping and len(masked) >= 1
    assert tokens[0] == "[CLS]" and not data.entity_mask[0][0]


def test_entity_token_mask_uses_overlap_and_skips_special_and_empty_tokens():
    offsets = [(0, 0), (0, 2), (2, 4), (4, 5), (5, 5), (0, 0)]
    special = [1, 0, 0, 0, 0, 1]
    assert entity_token_mask(offsets, special, [(1, 3, "PS")]) == [False, True, True, False, False, False]
    assert entity_token_mask(offsets, special, []) == [False] * 6


def test_ner_mask_spans_in_meta_win_over_entities(tmp_path):
    row = {
        "id": "a",
        "text": "김철수는 서울에 갔다",
        "labels": [0, 1],
        "entities": [{"start": 5, "end": 7, "type": "LC"}],
        "meta": {
            "masked": {
                "text": "[MASK]는 서울에 갔다",
                "offsets": [],
                "spans": [
                    {"start": 0, "end": 3, "type": "PS", "source": "morph", "maskStart": 0, "maskEnd": 6, "masks": 1}
                ],
            }
        },
    }
    (rows,) = [read_rows(write_jsonl(tmp_path / "r.jsonl", [row]))]
    assert rows[0].spans == [(0, 3, "PS")]


def test_batches_are_seeded_cover_every_row_once_and_group_by_length():
    lengths = [(i * 37) % 50 + 3 for i in range(200)]
    first = epoch_batches(lengths, 8, seed=42, epoch=0, group_by_length=True)
    assert first == epoch_batches(lengths, 8, seed=42, epoch=0, group_by_length=True)
    assert first != epoch_batches(lengths, 8, seed=42, epoch=1, group_by_length=True)
    assert sorted(i for b in first for i in b) == list(range(200))
    spread = lambda batches: sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)  # noqa: E731
    assert spread(first) < spread(epoch_batches(lengths, 8, seed=42, epoch=0, group_by_length=False)) / 4


@pytest.mark.parametrize(
    "line,message",
    [
        ("{not json", "invalid JSON"),
        ('{"id": "x", "text": "t"}', "labels must be"),
        ('{"id": "x", "text": "", "labels": [1]}', "text must be"),
        (
            '{"id": "x", "text": "abc", "labels": [1], "entities": [{"start": 2, "end": 9, "type": "PS"}]}',
            "not a span of the text",
        ),
    ],
)
def test_a_malformed_row_is_a_data_error_naming_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "ok", "text": "fine", "labels": [1]}) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=message) as e:
        read_rows(path)
    assert e.value.context["line"] == 2 and e.value.context["path"] == str(path)


def test_label_spec_is_inferred_from_the_rows():
    multi = [Row("a", "t", [0, 1, 1], [])]
    assert label_spec("auto", 0, None, multi) == LabelSpec("multilabel", 3, ["LABEL_0", "LABEL_1", "LABEL_2"])
    single = [Row("a", "t", 0, []), Row("b", "t", 4, [])]
    assert label_spec("auto", 0, None, single).num_labels == 5
    assert label_spec("auto", 0, None, single).problem_type == "single_label_classification"


def test_the_scratch_wordpiece_vocabulary_is_the_same_on_every_training():
    # tokenizers' trainer alone numbers ##-tokens in hash-map order (huggingface/tokenizers#1794).
    texts = [r["text"] for r in demo_rows("train")]
    first = train_wordpiece(texts, vocab_size=300, max_length=32).get_vocab()
    for _ in range(3):
        assert train_wordpiece(texts, vocab_size=300, max_length=32).get_vocab() == first
