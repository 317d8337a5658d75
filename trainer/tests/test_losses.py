"""Each loss term against a value computed independently, with plain numpy, on a 2-example batch."""

import math

import numpy as np
import pytest
import torch

from trainer.losses import loss_all, loss_debias, loss_mask

LOGITS_X = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.0]])
LOGITS_HAT = np.array([[0.1, -0.4, 1.2], [0.6, 0.2, -0.9]])
Y_MULTI = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
Y_CLASS = np.array([2, 1])
WEIGHTS = np.array([1.0, 3.0])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def bce(p, target):
    """Per example: mean over labels of -(t log p + (1 - t) log(1 - p))."""
    return (-(target * np.log(p) + (1 - target) * np.log(1 - p))).mean(axis=-1)


def cross_entropy(p, target_dist):
    return -(target_dist * np.log(p)).sum(axis=-1)


def wmean(values, weights):
    return (values * weights).sum() / weights.sum()


def t(a, grad=False):
    return torch.tensor(
        a, dtype=torch.float64 if isinstance(a, np.ndarray) and a.dtype.kind == "f" else torch.long, requires_grad=grad
    )


def test_l_all_of_zero_logits_is_log_2():
    value = loss_all(torch.zeros(2, 3), t(Y_MULTI), torch.ones(2), "multilabel")
    assert value.item() == pytest.approx(math.log(2), abs=1e-7)


def test_l_all_multilabel_is_the_weighted_mean_bce_of_sigmoid_probabilities():
    expected = wmean(bce(sigmoid(LOGITS_X), Y_MULTI), WEIGHTS)
    got = loss_all(t(LOGITS_X), t(Y_MULTI), t(WEIGHTS), "multilabel")
    assert got.item() == pytest.approx(expected, abs=1e-10)


def test_l_all_multiclass_is_the_cross_entropy_of_softmax_probabilities():
    expected = wmean(cross_entropy(softmax(LOGITS_X), np.eye(3)[Y_CLASS]), np.ones(2))
    got = loss_all(t(LOGITS_X), t(Y_CLASS), torch.ones(2, dtype=torch.float64), "multiclass")
    assert got.item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize(
    "alpha,temperature,orientation,scope,squared",
    [
        (0.7, 1.0, "manual", "teacher", False),
        (0.7, 2.0, "manual", "both", True),
        (0.7, 2.0, "public", "teacher", False),
        (0.3, 1.0, "public", "teacher", False),
        (0.7, 2.0, "manual", "teacher", True),
    ],
)
def test_l_mask_multilabel(alpha, temperature, orientation, scope, squared):
    gold = bce(sigmoid(LOGITS_HAT), Y_MULTI)
    teacher = sigmoid(LOGITS_X / temperature)
    student = sigmoid(LOGITS_HAT / temperature) if scope == "both" else sigmoid(LOGITS_HAT)
    soft = bce(student, teacher) * (temperature**2 if squared else 1.0)
    a = alpha if orientation == "manual" else 1 - alpha
    expected = wmean(a * gold + (1 - a) * soft, WEIGHTS)
    got = loss_mask(
        t(LOGITS_HAT),
        t(LOGITS_X),
        t(Y_MULTI),
        t(WEIGHTS),
        "multilabel",
        alpha,
        temperature,
        orientation,
        scope,
        squared,
    )
    assert got.item() == pytest.approx(expected, abs=1e-10)


def test_l_mask_with_temperature_1_is_the_manuals_formula():
    # α·BCE(P(y|x̂), y) + (1−α)·BCE(P(y|x̂), P(y|x)), written out label by label for example 0 and 1.
    p_hat, p_x, alpha = sigmoid(LOGITS_HAT), sigmoid(LOGITS_X), 0.7
    total = 0.0
    for i in range(2):
        hard = (
            sum(
                -(Y_MULTI[i, c] * math.log(p_hat[i, c]) + (1 - Y_MULTI[i, c]) * math.log(1 - p_hat[i, c]))
                for c in range(3)
            )
            / 3
        )
        soft = (
            sum(-(p_x[i, c] * math.log(p_hat[i, c]) + (1 - p_x[i, c]) * math.log(1 - p_hat[i, c])) for c in range(3))
            / 3
        )
        total += alpha * hard + (1 - alpha) * soft
    got = loss_mask(t(LOGITS_HAT), t(LOGITS_X), t(Y_MULTI), torch.ones(2, dtype=torch.float64), "multilabel", alpha)
    assert got.item() == pytest.approx(total / 2, abs=1e-10)


def test_l_mask_multiclass_uses_soft_cross_entropy_against_the_teacher():
    alpha, temperature = 0.7, 2.0
    gold = cross_entropy(softmax(LOGITS_HAT), np.eye(3)[Y_CLASS])
    soft = cross_entropy(softmax(LOGITS_HAT / temperature), softmax(LOGITS_X / temperature)) * temperature**2
    expected = wmean(alpha * gold + (1 - alpha) * soft, WEIGHTS)
    got = loss_mask(
        t(LOGITS_HAT),
        t(LOGITS_X),
        t(Y_CLASS),
        t(WEIGHTS),
        "multiclass",
        alpha,
        temperature,
        temperature_scope="both",
        temperature_squared=True,
    )
    assert got.item() == pytest.approx(expected, abs=1e-10)


def test_l_mask_treats_the_teacher_as_a_constant():
    z_x, z_hat = t(LOGITS_X, grad=True), t(LOGITS_HAT, grad=True)
    loss_mask(z_hat, z_x, t(Y_MULTI), t(WEIGHTS), "multilabel", 0.7, 2.0).backward()
    assert z_x.grad is None
    assert z_hat.grad is not None and z_hat.grad.abs().sum() > 0


# --- L_debias: 2 layers, batch of 2, 2 heads, 4 positions.
# Example 0: position 1 is an entity. Example 1: position 3 is padding.
KEEP = np.array([[True, False, True, True], [True, True, True, False]])


def attention_maps(seed):
    rng = np.random.default_rng(seed)
    return [softmax(rng.normal(size=(2, 2, 4, 4))) for _ in range(2)]


def expected_debias(maps_x, maps_hat, keep, per_head):
    """mean over layers of mean over kept (example, head, query) of KL(target ‖ prediction), both
    restricted to kept keys and renormalised; target = x̂'s map, prediction = x's map."""
    layers = []
    for a, a_hat in zip(maps_x, maps_hat):
        if not per_head:
            a, a_hat = a.mean(axis=1, keepdims=True), a_hat.mean(axis=1, keepdims=True)
        kls = []
        for b in range(a.shape[0]):
            keys = np.flatnonzero(keep[b])
            for h in range(a.shape[1]):
                for q in keys:
                    p = a[b, h, q, keys] / a[b, h, q, keys].sum()
                    target = a_hat[b, h, q, keys] / a_hat[b, h, q, keys].sum()
                    kls.append(float((target * np.log(target / p)).sum()))
        layers.append(np.mean(kls))
    return float(np.mean(layers))


@pytest.mark.parametrize("per_head", [True, False])
def test_l_debias_matches_the_kl_of_x_hats_attention_to_xs_over_kept_positions(per_head):
    maps_x, maps_hat = attention_maps(1), attention_maps(2)
    got = loss_debias(tuple(t(m) for m in maps_x), tuple(t(m) for m in maps_hat), torch.tensor(KEEP), per_head)
    assert got.item() == pytest.approx(expected_debias(maps_x, maps_hat, KEEP, per_head), abs=1e-10)


def test_l_debias_direction_is_target_x_hat():
    maps_x, maps_hat = attention_maps(1), attention_maps(2)
    got = loss_debias(tuple(t(m) for m in maps_x), tuple(t(m) for m in maps_hat), torch.tensor(KEEP)).item()
    reversed_kl = expected_debias(maps_hat, maps_x, KEEP, True)
    assert got != pytest.approx(reversed_kl, abs=1e-6)


def test_l_debias_is_zero_for_identical_maps_and_ignores_dropped_positions():
    maps = attention_maps(3)
    other = [m.copy() for m in maps]
    for m in other:  # change only what is dropped: entity key/query 1 of example 0, padding 3 of example 1
        m[0, :, 1, :] = 0.25
        m[1, :, 3, :] = 0.25
        m[0, :, :, 1] *= 5.0
        m[1, :, :, 3] *= 5.0
    got = loss_debias(tuple(t(m) for m in maps), tuple(t(m) for m in other), torch.tensor(KEEP))
    assert got.item() == pytest.approx(0.0, abs=1e-12)


def test_l_debias_trains_only_the_original_pass():
    maps_x = [t(m, grad=True) for m in attention_maps(1)]
    maps_hat = [t(m, grad=True) for m in attention_maps(2)]
    loss_debias(tuple(maps_x), tuple(maps_hat), torch.tensor(KEEP)).backward()
    assert all(m.grad is None for m in maps_hat)
    grad = maps_x[0].grad
    assert grad.abs().sum() > 0
    assert grad[0, :, 1, :].abs().sum() == 0  # entity query row
    assert grad[0, :, :, 1].abs().sum() == 0  # entity key column
    assert grad[1, :, 3, :].abs().sum() == 0 and grad[1, :, :, 3].abs().sum() == 0  # padding
