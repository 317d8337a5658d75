"""The two loss presets, each term computed by hand from its written formula on a 2-example batch
(numpy, never the implementation), and the two passes: the first sees x, the second x̂."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from trainer.config import LOSS_PRESETS, config_from_dict, effective_loss
from trainer.data import LabelSpec, collate, encode, read_rows
from trainer.losses import loss_debias, loss_mask
from trainer.modeling import AttentionMaps, build_model
from trainer.train import PairForward, compute_losses
from trainer.tests.support import demo_config, train_in_process

Z_X = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.0]])
Z_HAT = np.array([[0.1, -0.4, 1.2], [0.6, 0.2, -0.9]])
Y = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def bce_all(p, target):
    """torch.nn.BCELoss() as the authors use it: the mean over every (example, label) element."""
    return float((-(target * np.log(p) + (1 - target) * np.log(1 - p))).mean())


def t(a):
    return torch.tensor(a, dtype=torch.float64)


def mask_term(preset: str) -> float:
    p = LOSS_PRESETS[preset]
    return loss_mask(
        t(Z_HAT),
        t(Z_X),
        t(Y),
        torch.ones(2, dtype=torch.float64),
        "multilabel",
        p["alpha"],
        p["temperature"],
        p["alpha_orientation"],
        p["temperature_scope"],
        p["temperature_squared"],
    ).item()


def test_manual_l_mask_is_alpha_bce_to_gold_plus_one_minus_alpha_bce_to_the_plain_teacher():
    # L_mask = α·BCE(P(y|x̂), y) + (1−α)·BCE(P(y|x̂), P(y|x)), T = 1, α = 0.7
    p_hat, p_x = sigmoid(Z_HAT), sigmoid(Z_X)
    expected = 0.7 * bce_all(p_hat, Y) + 0.3 * bce_all(p_hat, p_x)
    assert mask_term("manual") == pytest.approx(expected, abs=1e-12)


def test_public_l_mask_is_the_authors_distillation_bce_alpha_on_the_teacher_softened_by_t_only():
    # DistillationBCELoss(temperature=2, alpha=0.7): α·BCE(σ(z_x̂), σ(z_x / T)) + (1−α)·BCE(σ(z_x̂), y), no T²
    p_hat = sigmoid(Z_HAT)
    expected = 0.7 * bce_all(p_hat, sigmoid(Z_X / 2.0)) + 0.3 * bce_all(p_hat, Y)
    assert mask_term("public") == pytest.approx(expected, abs=1e-12)


# --- L_debias on 2 layers × batch of 2 × 2 heads × 5 positions.
# Example 0: position 2 is an entity, position 4 padding. Example 1: nothing dropped.
ATTENTION = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
ENTITY = np.array([[0, 0, 1, 0, 0], [0, 0, 0, 0, 0]])
KEEP = (ATTENTION == 1) & (ENTITY == 0)


def maps(seed):
    rng = np.random.default_rng(seed)
    return [softmax(rng.normal(size=(2, 2, 5, 5))) for _ in range(2)]


def authors_debias(maps_x, maps_hat):
    """The authors' get_valid_attention_probs + KLDivLoss + bincount reduction, loop by loop: invalid
    keys zeroed (no renormalisation), rows of valid queries kept, KL(Â ‖ A) with log(A + 1e-9),
    each row's KL divided by its example's count of valid rows, then the mean over everything."""
    values = []
    for a, a_hat in zip(maps_x, maps_hat):
        for h in range(2):
            for b in range(2):
                valid = np.flatnonzero(KEEP[b])
                for q in valid:
                    p = np.where(KEEP[b], a[b, h, q], 0.0)
                    target = np.where(KEEP[b], a_hat[b, h, q], 0.0)
                    kl = sum(target[k] * (np.log(target[k]) - np.log(p[k] + 1e-9)) for k in range(5) if target[k] > 0)
                    values.append(kl / len(valid))
    return float(np.mean(values))


def manual_debias(maps_x, maps_hat):
    """mean over layers of the mean over kept (head, query) rows of KL(Â ‖ A), rows renormalised over kept keys."""
    layers = []
    for a, a_hat in zip(maps_x, maps_hat):
        kls = []
        for b in range(2):
            keys = np.flatnonzero(KEEP[b])
            for h in range(2):
                for q in keys:
                    p = a[b, h, q, keys] / a[b, h, q, keys].sum()
                    target = a_hat[b, h, q, keys] / a_hat[b, h, q, keys].sum()
                    kls.append(float((target * np.log(target / p)).sum()))
        layers.append(np.mean(kls))
    return float(np.mean(layers))


@pytest.mark.parametrize("preset,by_hand", [("manual", manual_debias), ("public", authors_debias)])
def test_each_presets_l_debias_matches_its_formula_written_out(preset, by_hand):
    maps_x, maps_hat = maps(1), maps(2)
    got = loss_debias(
        tuple(t(m) for m in maps_x),
        tuple(t(m) for m in maps_hat),
        torch.tensor(KEEP),
        per_head=LOSS_PRESETS[preset]["debias_heads"] == "perHead",
        normalisation=LOSS_PRESETS[preset]["debias_normalisation"],
    )
    assert got.item() == pytest.approx(by_hand(maps_x, maps_hat), abs=1e-10)


def test_the_public_attention_kl_is_on_a_smaller_scale_than_the_manuals():
    # Each row divided by the example's ~4 kept rows: λ = 10 means less on the authors' scale.
    maps_x, maps_hat = maps(1), maps(2)
    assert authors_debias(maps_x, maps_hat) < manual_debias(maps_x, maps_hat) / 2


@pytest.mark.parametrize(
    "given,expected",
    [
        (
            {},
            {
                "loss": "manual",
                "alpha": 0.7,
                "alphaOrientation": "manual",
                "temperature": 1.0,
                "lambdaDebias": 10.0,
                "temperatureScope": "teacher",
                "temperatureSquared": False,
                "debiasNormalisation": "renormalised",
            },
        ),
        ({"loss": "public"}, {"alphaOrientation": "public", "temperature": 2.0, "debiasNormalisation": "public"}),
        ({"loss": "public", "temperature": 1.0}, {"alphaOrientation": "public", "temperature": 1.0}),
        ({"lambdaDebias": 0.3}, {"loss": "manual", "lambdaDebias": 0.3, "temperature": 1.0}),
    ],
)
def test_a_preset_fills_every_knob_left_unset_and_an_explicit_knob_wins(tmp_path, given, expected):
    cfg = config_from_dict(demo_config(tmp_path, mode="debiased", **given))
    resolved = cfg.to_json()
    assert {k: resolved[k] for k in expected} == expected
    overrides = effective_loss(cfg)["overrides"]
    assert overrides == [
        k for k in ("alpha", "alphaOrientation", "lambdaDebias", "temperature") if k in given and k != "loss"
    ]


def test_every_run_records_its_effective_loss_in_train_config_and_the_start_event(tmp_path):
    run = train_in_process(demo_config(tmp_path, mode="debiased", loss="public", maxSteps=1), tmp_path)
    assert run.code == 0, run.last
    recorded = json.loads((tmp_path / "out" / "train_config.json").read_text())["effectiveLoss"]
    assert recorded == run.of("start")[0]["loss"]
    assert recorded["preset"] == "public"
    assert recorded["values"]["temperature"] == 2.0 and recorded["values"]["alphaOrientation"] == "public"
    assert "α·BCE(P(y|x̂), P(y|x; T=2).detach())" in recorded["formula"]
    assert "(1−α)·BCE(P(y|x̂), y)" in recorded["formula"]
    # The written file loads back (effectiveLoss is derived, not a config key).
    assert config_from_dict(json.loads((tmp_path / "out" / "train_config.json").read_text())).loss == "public"


# --- the two passes, observed at the model's forward


@pytest.fixture()
def tiny(tmp_path):
    """A tiny scratch model in eval mode (no dropout) and a 2-row batch whose row 0 has an entity."""
    config = config_from_dict(demo_config(tmp_path, mode="debiased"))
    rows = read_rows(config.train_file)
    spec = LabelSpec("multilabel", 3, ["TA", "UD", "UI"])
    torch.manual_seed(0)
    model, tokenizer = build_model(config, spec, [r.text for r in rows])
    # Row 0 keeps its entity (an identity term); row 1 is another row with its spans taken away.
    data = encode([rows[0], dataclasses.replace(rows[1], spans=[])], tokenizer, config.max_length)
    batch = collate(data, [0, 1], spec, tokenizer.pad_token_id, tokenizer.mask_token_id)
    return config, spec, model.eval(), tokenizer, batch


def observe_forward(model):
    """The input_ids every forward call of `model` receives, in call order."""
    seen = []
    model.register_forward_pre_hook(
        lambda _m, _args, kwargs: seen.append(kwargs["input_ids"].clone()), with_kwargs=True
    )
    return seen


def test_the_first_pass_receives_x_and_the_second_x_hat(tiny):
    config, spec, model, tokenizer, batch = tiny
    x = batch["input_ids"].clone()
    entity = batch["entity_mask"]
    assert entity[0].any() and not entity[1].any()
    seen = observe_forward(model)
    compute_losses(PairForward(model, debiased=True), batch, config, spec)
    assert len(seen) == 2
    assert torch.equal(seen[0], x), "the first pass (the teacher) must see x, entity tokens intact"
    assert not (seen[0][entity] == tokenizer.mask_token_id).any()
    expected_hat = x.clone()
    expected_hat[entity] = tokenizer.mask_token_id
    assert torch.equal(seen[1], expected_hat), "the second pass must see x̂: x with every entity token masked"
    assert torch.equal(batch["input_ids"], x), "x itself is never modified"


def test_each_term_equals_its_formula_on_the_models_own_outputs(tiny):
    """compute_losses against the manual's formulas evaluated on the model's outputs for x and for
    x̂ built here by hand (numpy), so a wiring mistake (x̂ in the first pass, a swapped target) fails."""
    config, spec, model, tokenizer, batch = tiny
    _, terms = compute_losses(PairForward(model, debiased=True), batch, config, spec)
    x = batch["input_ids"]
    x_hat = torch.where(batch["entity_mask"], torch.full_like(x, tokenizer.mask_token_id), x)
    with torch.no_grad():
        out_x = model(input_ids=x, attention_mask=batch["attention_mask"], output_attentions=True)
        out_hat = model(input_ids=x_hat, attention_mask=batch["attention_mask"], output_attentions=True)
    z_x, z_hat, y = out_x.logits.double().numpy(), out_hat.logits.double().numpy(), batch["labels"].double().numpy()
    assert terms["loss_all"].item() == pytest.approx(bce_all(sigmoid(z_x), y), abs=1e-6)
    expected_mask = 0.7 * bce_all(sigmoid(z_hat), y) + 0.3 * bce_all(sigmoid(z_hat), sigmoid(z_x))
    assert terms["loss_mask"].item() == pytest.approx(expected_mask, abs=1e-6)
    keep = (batch["attention_mask"].bool() & ~batch["entity_mask"]).numpy()
    layers = []
    for a, a_hat in zip(out_x.attentions, out_hat.attentions):
        a, a_hat = a.double().numpy(), a_hat.double().numpy()
        kls = []
        for b in range(a.shape[0]):
            keys = np.flatnonzero(keep[b])
            for h in range(a.shape[1]):
                for q in keys:
                    p = a[b, h, q, keys] / a[b, h, q, keys].sum()
                    target = a_hat[b, h, q, keys] / a_hat[b, h, q, keys].sum()
                    kls.append(float((target * np.log(target / p)).sum()))
        layers.append(np.mean(kls))
    assert terms["loss_debias"].item() == pytest.approx(float(np.mean(layers)), abs=1e-6)


def test_l_debias_is_exactly_zero_when_x_hat_equals_x_and_positive_when_they_differ(tiny):
    config, spec, model, _, batch = tiny
    _, differ = compute_losses(PairForward(model, debiased=True), batch, config, spec)
    same = dict(batch, input_ids_hat=batch["input_ids"].clone())
    _, equal = compute_losses(PairForward(model, debiased=True), same, config, spec)
    assert equal["loss_debias"].item() == 0.0
    # A fresh model attends almost uniformly, so the difference is small, but it is not 0: two
    # passes over the same tensor (the authors' bug) give exactly 0, as the line above shows.
    assert differ["loss_debias"].item() > 0.0


def test_the_recorded_maps_are_the_attention_before_dropout_so_both_modes_keep_the_same_dropout(tiny):
    config, spec, model, _, batch = tiny
    assert model.config.attention_probs_dropout_prob == 0.1, "debiased mode keeps the model's attention dropout"
    maps = AttentionMaps(model)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    # Eval mode: dropout is the identity, so the recorded maps are exactly what HF returns.
    out, recorded = maps(lambda: model(input_ids=ids, attention_mask=mask, output_attentions=True))
    assert len(recorded) == model.config.num_hidden_layers
    for r, a in zip(recorded, out.attentions):
        assert torch.equal(r, a)
    # Train mode: HF's maps have dropped (zero) entries, the recorded ones are still distributions.
    model.train()
    torch.manual_seed(1)
    out, recorded = maps(lambda: model(input_ids=ids, attention_mask=mask, output_attentions=True))
    real = mask.bool()[:, None, :, None] & mask.bool()[:, None, None, :]
    assert any((a[real.expand_as(a)] == 0).any() for a in out.attentions), "dropout zeroed some attention"
    for r in recorded:
        rows = r.sum(dim=-1)[mask.bool()[:, None, :].expand(-1, r.shape[1], -1)]
        assert torch.allclose(rows, torch.ones_like(rows), atol=1e-6)
        assert r.requires_grad, "the maps keep their autograd history: L_debias trains through them"
    maps.remove()
