"""scikit-learn's numbers for the cases of test/eval/metrics.test.ts.

Reads a JSON list of cases on stdin, each {task, y_true, y_score, labels?, exclude?, threshold?}
as eval/metrics.ts takes them, and prints a JSON list of {metrics, curves} shaped like
`metricsSchema` and `LabelCurves[]`. Every number comes from scikit-learn's public functions,
called as docs/metrics.md says fairline's semantics map onto them; fairline's own rules (null
where a ranking metric is undefined, macro means over the defined labels) are applied on top.
Where every label is defined, the macro means are also checked against scikit-learn's own
averaging, so the "mean over labels" rule provably equals it there.
"""

import json
import sys
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    auc,
    average_precision_score,
    confusion_matrix,
    f1_score,
    hamming_loss,
    multilabel_confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

DEFAULT_THRESHOLD = 0.5  # eval/input.ts DEFAULT_THRESHOLD


def klue_re_auprc(probs, labels):
    """KLUE's AUPRC for any number of classes: mean of auc(recall, precision) over every class, × 100."""
    k = probs.shape[1]
    onehot = np.eye(k)[labels]
    score = np.zeros((k,))
    for c in range(k):
        precision, recall, _ = precision_recall_curve(onehot[:, c], probs[:, c])
        score[c] = auc(recall, precision)
    return float(np.average(score) * 100.0)


def mean_defined(values):
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def label_columns(case):
    """(truth, score) one-vs-rest per label, the prediction matrix/vector and the label indices."""
    task = case["task"]
    y = np.array(case["y_true"], dtype=int)
    p = np.array(case["y_score"], dtype=float)
    if task == "multilabel":
        return [(y[:, j], p[:, j]) for j in range(y.shape[1])], y, p
    if task == "multiclass":
        return [((y == j).astype(int), p[:, j]) for j in range(p.shape[1])], y, p
    # Class 0 is ranked by -p: the order of 1 - p without rounding ties (eval/input.ts).
    return [(1 - y, -p), (y, p)], y, p


def reference(case):
    task = case["task"]
    columns, y, p = label_columns(case)
    k = len(columns)
    labels = case.get("labels") or [str(j) for j in range(k)]
    threshold = None if task == "multiclass" else case.get("threshold", DEFAULT_THRESHOLD)
    if task == "multilabel":
        pred = (p > threshold).astype(int)  # strictly greater, as trainer/train.py
        label_kw = {}
    elif task == "multiclass":
        pred = p.argmax(axis=1)
        label_kw = {"labels": list(range(k))}
    else:
        pred = (p > threshold).astype(int)
        label_kw = {"labels": [0, 1]}

    precision, recall, f1, support = precision_recall_fscore_support(y, pred, average=None, zero_division=0, **label_kw)
    micro_kw = dict(label_kw)
    if case.get("exclude") is not None:
        micro_kw["labels"] = [j for j in range(k) if labels[j] != case["exclude"]]

    roc_auc, average_precision, curves = [], [], []
    for j, (truth, score) in enumerate(columns):
        # With one class only, scikit-learn 1.7 warns and returns NaN (older versions raise); fairline says null.
        auc = float(roc_auc_score(truth, score))
        roc_auc.append(None if np.isnan(auc) else auc)
        positives = int(truth.sum())
        # scikit-learn returns 0 without positives (with a warning); fairline says null.
        average_precision.append(float(average_precision_score(truth, score)) if positives else None)
        roc = None
        if 0 < positives < len(truth):
            fpr, tpr, _ = roc_curve(truth, score)
            roc = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
        pr = None
        if positives:
            prec, rec, _ = precision_recall_curve(truth, score)
            pr = {"precision": prec.tolist(), "recall": rec.tolist()}
        curves.append({"label": labels[j], "roc": roc, "pr": pr})

    roc_auc_macro = mean_defined(roc_auc)
    average_precision_macro = mean_defined(average_precision)
    if None not in roc_auc and task == "multilabel":
        assert abs(roc_auc_macro - roc_auc_score(y, p, average="macro")) < 1e-12
    if None not in roc_auc and task == "multiclass" and np.allclose(p.sum(axis=1), 1):
        assert (
            abs(roc_auc_macro - roc_auc_score(y, p, multi_class="ovr", average="macro", labels=list(range(k)))) < 1e-12
        )
    if None not in average_precision and task == "multilabel":
        assert abs(average_precision_macro - average_precision_score(y, p, average="macro")) < 1e-12

    if task == "multilabel":
        confusion = multilabel_confusion_matrix(y, pred).tolist()
    else:
        confusion = confusion_matrix(y, pred, labels=list(range(k))).tolist()

    metrics = {
        "task": task,
        "labels": labels,
        "threshold": threshold,
        "n": int(len(y)),
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0, **label_kw)),
        "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0, **micro_kw)),
        "weighted_f1": float(f1_score(y, pred, average="weighted", zero_division=0, **label_kw)),
        "subset_accuracy": float(accuracy_score(y, pred)),
        "hamming_loss": float(hamming_loss(y, pred)),
        "roc_auc_macro": roc_auc_macro,
        "average_precision_macro": average_precision_macro,
        "per_label": [
            {
                "label": labels[j],
                "precision": float(precision[j]),
                "recall": float(recall[j]),
                "f1": float(f1[j]),
                "support": int(support[j]),
                "roc_auc": roc_auc[j],
                "average_precision": average_precision[j],
            }
            for j in range(k)
        ],
        "confusion_matrix": confusion,
    }
    if case.get("exclude") is not None:
        metrics["excluded_label"] = case["exclude"]
        if task == "multiclass":
            # KLUE-RE's official pair, as KLUE's script computes it (test/eval/klue_re_reference.py).
            metrics["klue_re_micro_f1"] = float(f1_score(y, pred, average="micro", labels=micro_kw["labels"]) * 100.0)
            metrics["klue_re_auprc"] = klue_re_auprc(p, y)
    if task == "binary":
        metrics["f1"] = float(f1_score(y, pred, average="binary", pos_label=1, zero_division=0))
        metrics["roc_auc"] = roc_auc[1]
    return {"metrics": metrics, "curves": curves}


def main():
    warnings.simplefilter("ignore", UndefinedMetricWarning)
    warnings.simplefilter("ignore", UserWarning)
    json.dump([reference(case) for case in json.load(sys.stdin)], sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
