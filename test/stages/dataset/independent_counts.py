"""Counts the shared datasets with Python's own csv and json modules, independently of fairline.

test/stages/dataset/datasets.test.ts runs this (with the trainer venv's python, or python3) and
compares its numbers with the dataset cards and artifacts the `dataset` stage wrote:

    python test/stages/dataset/independent_counts.py ../shared/data

Prints one JSON object: per "pipeline/stage", per source file, the number of rows, the label
frequencies (positives per label for multi-label, rows per class for single-label), entity counts
per type (klue-ner), and the sha256 of the row texts joined by newlines, in file order.
"""

import csv
import hashlib
import json
import re
import statistics
import sys
from pathlib import Path


def table(path, delimiter):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    header = rows[0]
    return [dict(zip(header, r)) for r in rows[1:] if r]


def digest(texts):
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def summary(texts, labels, names, multilabel):
    if multilabel:
        freq = {name: sum(v[i] for v in labels) for i, name in enumerate(names)}
    else:
        freq = {name: sum(1 for v in labels if v == i) for i, name in enumerate(names)}
    return {"rows": len(texts), "labels": freq, "texts": digest(texts)}


def ethics(root):
    names = ["TA", "UD", "UI"]
    out = {}
    for f in ["train.json", "test.json"]:
        data = json.loads((root / "ethics-problems" / f).read_text(encoding="utf-8"))
        out[f] = summary([d["sentence"] for d in data], [d["labels"] for d in data], names, True)
    return out


def korean_hate_speech(root, column, classes):
    out = {}
    for f in ["train.tsv", "dev.tsv"]:
        rows = table(root / "korean-hate-speech" / f, "\t")
        out[f] = summary([r["comments"] for r in rows], [classes.index(r[column]) for r in rows], classes, False)
    return out


def unsmile(root):
    names = ["여성/가족", "남성", "성소수자", "인종/국적", "연령", "지역", "종교", "기타 혐오", "악플/욕설", "clean"]
    out = {}
    for f in ["train.tsv", "valid.tsv"]:
        rows = table(root / "unsmile" / f, "\t")
        out[f] = summary([r["문장"] for r in rows], [[int(r[n]) for n in names] for r in rows], names, True)
    return out


def kosbi(root):
    data = json.loads((root / "kosbi" / "valid.json").read_text(encoding="utf-8"))
    classes = ["safe", "unsafe"]
    return {
        "valid.json": summary(
            [d["sentence"] for d in data], [classes.index(d["sentence_label"]) for d in data], classes, False
        )
    }


def kmhas(root):
    names = ["origin", "physical", "politics", "profanity", "age", "gender", "race", "religion", "not_hate"]
    rows = table(root / "kmhas" / "valid.txt", "\t")
    labels = []
    for r in rows:
        ids = {int(t) for t in r["label"].split(",")}
        labels.append([1 if i in ids else 0 for i in range(9)])
    return {"valid.txt": summary([r["document"] for r in rows], labels, names, True)}


def ethos_binary(root):
    rows = table(root / "ethos" / "binary.csv", ";")
    values = [float(r["isHate"]) for r in rows]
    median = statistics.median(values)
    out = summary([r["comment"] for r in rows], [1 if v >= median else 0 for v in values], ["not_hate", "hate"], False)
    out["median"] = median
    return {"binary.csv": out}


def ethos_multi(root):
    names = [
        "violence",
        "directed_vs_generalized",
        "gender",
        "race",
        "national_origin",
        "disability",
        "religion",
        "sexual_orientation",
    ]
    rows = table(root / "ethos" / "multi_label.csv", ";")
    return {
        "multi_label.csv": summary(
            [r["comment"] for r in rows], [[1 if float(r[n]) >= 0.5 else 0 for n in names] for r in rows], names, True
        )
    }


def klue_ner(root):
    """Sentences are blocks between blank lines; `##` lines are comments; spans come from BIO tags."""
    texts, entities = [], {}
    chars, tags = [], []

    def close():
        if not chars:
            return
        texts.append("".join(chars))
        kind = None
        for tag in tags + ["O"]:
            if tag.startswith("B-") or tag == "O":
                if kind:
                    entities[kind] = entities.get(kind, 0) + 1
                kind = tag[2:] if tag.startswith("B-") else None
        chars.clear()
        tags.clear()

    for line in (root / "klue-ner" / "dev.tsv").read_text(encoding="utf-8").split("\n"):
        if line == "":
            close()
        elif not line.startswith("##"):
            char, tag = line.rsplit("\t", 1)
            chars.append(char)
            tags.append(tag)
    close()
    return {"dev.tsv": {"rows": len(texts), "labels": {}, "entities": entities, "texts": digest(texts)}}


def main():
    root = Path(sys.argv[1])
    print(
        json.dumps(
            {
                "ethics-problems/data": ethics(root),
                "korean-hate-speech/hate": korean_hate_speech(root, "hate", ["none", "offensive", "hate"]),
                "korean-hate-speech/bias": korean_hate_speech(root, "bias", ["none", "others", "gender"]),
                "unsmile/data": unsmile(root),
                "kosbi/data": kosbi(root),
                "kmhas/data": kmhas(root),
                "ethos/binary": ethos_binary(root),
                "ethos/multi-label": ethos_multi(root),
                "klue-ner/data": klue_ner(root),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
