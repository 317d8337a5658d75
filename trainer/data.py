"""Canonical JSONL rows -> token ids, entity-token masks, seeded length-grouped batches, x and x̂.

Rows are `{id, text, labels, entities?, pair?, meta?}` (pipeline/dataset.ts). Entity spans are
`[start, end)` in code points (Python `str` indices). A row that went through the ner-mask stage
carries `meta.masked.spans` (spans in x, merged over all span sources); those win over `entities`.

x̂ is built here, per token: every token whose character range overlaps an entity span becomes
the tokenizer's mask token, one mask per sub-token, so x and x̂ have the same length and their
positions line up (the attention maps of L_debias are compared position by position). x̂ is a
new tensor; x is never modified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import DataError

MULTILABEL, MULTICLASS = "multilabel", "multiclass"


@dataclass
class Row:
    id: str
    text: str
    labels: Any  # list[int] (multilabel) or int (multiclass)
    spans: list[tuple[int, int, str]]
    weight: float = 1.0
    path: str = ""
    line: int = 0


@dataclass
class LabelSpec:
    task: str  # multilabel | multiclass
    num_labels: int
    names: list[str]

    @property
    def problem_type(self) -> str:
        return "multi_label_classification" if self.task == MULTILABEL else "single_label_classification"


@dataclass
class Encoded:
    """A tokenized dataset: unpadded ids and a parallel entity-token mask per row."""

    input_ids: list[list[int]]
    entity_mask: list[list[bool]]
    labels: list[Any]
    weights: list[float]

    def __len__(self) -> int:
        return len(self.input_ids)

    @cached_property  # once: the trainer's predict sorts by it, reading it once per row
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _row_spans(raw: dict, fail) -> list[tuple[int, int, str]]:
    meta = raw.get("meta")
    masked = meta.get("masked") if isinstance(meta, dict) else None
    source = masked.get("spans") if isinstance(masked, dict) else raw.get("entities")
    if source is None:
        return []
    if not isinstance(source, list):
        fail("entities must be a list of {start, end, type}")
    spans = []
    for i, s in enumerate(source):
        if not isinstance(s, dict):
            fail(f"entity {i} must be an object")
        start, end, kind = s.get("start"), s.get("end"), s.get("type", "")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw["text"])):
            fail(f"entity {i} [{start}, {end}) is not a span of the text (length {len(raw['text'])})")
        spans.append((start, end, str(kind)))
    return spans


def canonical_lines(path: str | Path, text_name: str = "text"):
    """The rows of a canonical JSONL file, each checked for what every row has (a JSON object, a
    unique non-empty id, a non-empty text), as (line number, row, fail): fail(message) raises the
    DataError that names the file, line and id. Shared by the classifier and embedding readers."""
    seen = set()
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"invalid JSON: {e.msg}", str(path), line_no) from None
            row_id = raw.get("id") if isinstance(raw, dict) else None

            def fail(message: str, _id=row_id, _line=line_no):
                raise DataError(message, str(path), _line, str(_id) if _id is not None else None)

            if not isinstance(raw, dict):
                fail("a row must be a JSON object")
            if not isinstance(row_id, str) or not row_id:
                fail("id must be a non-empty string")
            if row_id in seen:
                fail(f"duplicate id {row_id!r}")
            seen.add(row_id)
            if not isinstance(raw.get("text"), str) or not raw["text"]:
                fail(f"{text_name} must be a non-empty string")
            yield line_no, raw, fail


def read_rows(path: str | Path, weight: float = 1.0, allow_empty: bool = False) -> list[Row]:
    """Reads canonical JSONL; a malformed line is a DataError naming the file, line and row id.
    An empty file is a DataError unless allow_empty (hard negatives: mining may find none)."""
    rows = []
    for line_no, raw, fail in canonical_lines(path):
        labels = raw.get("labels")
        multilabel = isinstance(labels, list) and all(v in (0, 1) and not isinstance(v, bool) for v in labels)
        multiclass = isinstance(labels, int) and not isinstance(labels, bool) and labels >= 0
        if not (multilabel or multiclass):
            fail("labels must be a 0/1 list (multilabel) or a class index (multiclass)")
        rows.append(Row(raw["id"], raw["text"], labels, _row_spans(raw, fail), weight, str(path), line_no))
    if not rows and not allow_empty:
        raise DataError("the file has no rows", str(path))
    return rows


def label_spec(task: str, num_labels: int, names: list[str] | None, rows: list[Row]) -> LabelSpec:
    """The task and label count: from the config when given, else from the training rows."""
    if task == "auto":
        task = MULTILABEL if isinstance(rows[0].labels, list) else MULTICLASS
    if num_labels == 0 and names:
        num_labels = len(names)
    if num_labels == 0:
        if task == MULTILABEL:
            num_labels = len(rows[0].labels) if isinstance(rows[0].labels, list) else 0
        else:
            num_labels = 1 + max((r.labels for r in rows if isinstance(r.labels, int)), default=-1)
        num_labels = max(num_labels, 2 if task == MULTICLASS else 1)
    return LabelSpec(task, num_labels, names or [f"LABEL_{i}" for i in range(num_labels)])


def check_labels(rows: list[Row], spec: LabelSpec) -> None:
    """Every row's labels fit the spec; the first that does not is a DataError naming it."""
    for r in rows:
        if spec.task == MULTILABEL:
            if not isinstance(r.labels, list):
                raise DataError(
                    f"labels must be a 0/1 list of width {spec.num_labels} (multilabel), got {r.labels}",
                    r.path,
                    r.line,
                    r.id,
                )
            if len(r.labels) != spec.num_labels:
                raise DataError(f"labels has width {len(r.labels)}, expected {spec.num_labels}", r.path, r.line, r.id)
        else:
            if not isinstance(r.labels, int):
                raise DataError(f"labels must be a class index (multiclass), got {r.labels}", r.path, r.line, r.id)
            if r.labels >= spec.num_labels:
                raise DataError(
                    f"class index {r.labels} is out of range for {spec.num_labels} classes", r.path, r.line, r.id
                )


def entity_token_mask(
    offsets: list[tuple[int, int]], special: list[int], spans: list[tuple[int, int, str]]
) -> list[bool]:
    """True for each token whose character range overlaps a span (special and empty tokens never)."""
    mask = []
    for (start, end), is_special in zip(offsets, special):
        hit = not is_special and end > start and any(start < s_end and end > s_start for s_start, s_end, _ in spans)
        mask.append(hit)
    return mask


def encode(rows: list[Row], tokenizer, max_length: int, entity_types: list[str] | None = None) -> Encoded:
    """Tokenizes every row once (truncated, unpadded) and marks the tokens that overlap entities."""
    enc = tokenizer(
        [r.text for r in rows],
        truncation=True,
        max_length=max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
    )
    wanted = set(entity_types) if entity_types is not None else None
    masks = []
    for i, r in enumerate(rows):
        spans = [s for s in r.spans if wanted is None or s[2] in wanted]
        masks.append(entity_token_mask(enc["offset_mapping"][i], enc["special_tokens_mask"][i], spans))
    return Encoded(list(enc["input_ids"]), masks, [r.labels for r in rows], [r.weight for r in rows])


def epoch_batches(lengths: list[int], batch_size: int, seed: int, epoch: int, group_by_length: bool) -> list[list[int]]:
    """The batches (row indices) of one epoch: a seeded permutation; with grouping, rows of similar
    length share a batch (sorted within megabatches of 50 batches, as HF's LengthGroupedSampler)
    and the batch order is shuffled again. Depends only on (seed, epoch), so a resumed run
    rebuilds the same list and skips the batches it has done."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths)).tolist()
    if group_by_length:
        mega = batch_size * 50
        order = [j for i in range(0, len(order), mega) for j in sorted(order[i : i + mega], key=lambda k: -lengths[k])]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        batches = [batches[k] for k in rng.permutation(len(batches)).tolist()]
    return batches


def mask_entities(input_ids: torch.Tensor, entity_mask: torch.Tensor, mask_token_id: int) -> torch.Tensor:
    """x̂: a new tensor equal to x except at entity tokens, which hold the mask token."""
    return torch.where(entity_mask, torch.full_like(input_ids, mask_token_id), input_ids)


def collate(
    data: Encoded, indices: list[int], spec: LabelSpec, pad_id: int, mask_id: int | None
) -> dict[str, torch.Tensor]:
    """Pads a batch to its longest row (dynamic padding). With `mask_id`, adds x̂ as `input_ids_hat`."""
    width = max(len(data.input_ids[i]) for i in indices)
    input_ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(indices), width), dtype=torch.long)
    entity_mask = torch.zeros((len(indices), width), dtype=torch.bool)
    for row, i in enumerate(indices):
        n = len(data.input_ids[i])
        input_ids[row, :n] = torch.tensor(data.input_ids[i], dtype=torch.long)
        attention_mask[row, :n] = 1
        entity_mask[row, :n] = torch.tensor(data.entity_mask[i], dtype=torch.bool)
    if spec.task == MULTILABEL:
        labels = torch.tensor([data.labels[i] for i in indices], dtype=torch.float32)
    else:
        labels = torch.tensor([data.labels[i] for i in indices], dtype=torch.long)
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "entity_mask": entity_mask,
        "labels": labels,
        "weights": torch.tensor([data.weights[i] for i in indices], dtype=torch.float32),
    }
    if mask_id is not None:
        batch["input_ids_hat"] = mask_entities(input_ids, entity_mask, mask_id)
    return batch
