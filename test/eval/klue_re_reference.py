"""KLUE-RE's official metrics, for test/eval/klue-re.test.ts: the reference, not fairline's code.

The two functions are KLUE's (KLUE-baseline, klue_baseline/metrics/functional.py), with the class
count taken from the label list instead of the hard-coded 30 so that small cases run too. Reads a
JSON list of cases on stdin, each {labels: [names], y_true: [class index], probs: [[p]]}, and
prints a JSON list of {klue_re_micro_f1, klue_re_auprc}.
"""

import json
import sys
import warnings

import numpy as np
import sklearn.metrics


def klue_re_micro_f1(preds, labels, label_list):
    """KLUE-RE micro f1 (except no_relation)"""
    no_relation_label_idx = label_list.index("no_relation")
    label_indices = list(range(len(label_list)))
    label_indices.remove(no_relation_label_idx)
    return sklearn.metrics.f1_score(labels, preds, average="micro", labels=label_indices) * 100.0


def klue_re_auprc(probs, labels, num_classes):
    """KLUE-RE AUPRC (with no_relation)"""
    labels = np.eye(num_classes)[labels]

    score = np.zeros((num_classes,))
    for c in range(num_classes):
        targets_c = labels.take([c], axis=1).ravel()
        preds_c = probs.take([c], axis=1).ravel()
        precision, recall, _ = sklearn.metrics.precision_recall_curve(targets_c, preds_c)
        score[c] = sklearn.metrics.auc(recall, precision)
    return np.average(score) * 100.0


def main():
    # Classes without positives warn (recall set to 1) and a micro F1 without predictions warns.
    warnings.simplefilter("ignore")
    out = []
    for case in json.load(sys.stdin):
        labels = np.array(case["y_true"], dtype=int)
        probs = np.array(case["probs"], dtype=float)
        preds = probs.argmax(axis=1)
        out.append(
            {
                "klue_re_micro_f1": float(klue_re_micro_f1(preds, labels, case["labels"])),
                "klue_re_auprc": float(klue_re_auprc(probs, labels, len(case["labels"]))),
            }
        )
    json.dump(out, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
