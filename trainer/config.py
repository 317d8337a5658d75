"""The training config: one dataclass whose defaults carry their reason.

The config file is JSON with camelCase keys (the TypeScript side writes it); the dataclass fields
are their snake_case spellings (`trainFile` -> `train_file`). Unknown keys, wrong types and
out-of-range values are `ConfigError`s naming the key, so a typo never trains silently with a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from .errors import ConfigError


@dataclass
class ScratchModel:
    """Size of the BERT-style model trained from zero when `model` is "scratch"."""

    hidden: int = 64  # tiny, so tests and the demo train on a laptop CPU in seconds
    layers: int = 2
    heads: int = 2  # hidden must divide by heads; 2 heads keeps per-head attention maps to compare
    intermediate: int = 128  # 2x hidden: BERT uses 4x, a tiny model does not need it
    vocab_size: int = 2000  # WordPiece vocabulary trained on the training text; enough for the demo's
    # templates. Korean corpora with ~1k distinct syllables want 4k-8k, or words fall to [UNK].
    dropout: float = 0.1  # BERT's hidden dropout


@dataclass
class HardNegatives:
    """Extra training rows (canonical JSONL), e.g. from the mine-hard-negatives stage."""

    path: str
    weight: float = 1.0  # each row's weight in the weighted mean of the classification losses


@dataclass
class Adapter:
    """A parameter-efficient adapter (trainer/adapters.py): LoRA through PEFT. Only the low-rank
    matrices and the classification head train; the rest of the model stays as loaded."""

    type: Literal["lora"] = "lora"
    r: int = 8  # rank of each low-rank update B·A (PEFT's default)
    alpha: float = 16.0  # the update is scaled by alpha / r (the LoRA paper's α)
    dropout: float = 0.1  # dropout on the adapter's input
    # Linear layers (by name suffix) that get an adapter; None: the query and value projections of
    # each attention layer, the LoRA paper's choice (PEFT's default for BERT-style models too).
    target_modules: Optional[list[str]] = None


@dataclass
class Debug:
    """Switches that drive real failure paths in tests."""

    nan_at_step: int = 0  # multiply the logits by NaN at this optimizer step (0: never): the NaN exit path


@dataclass
class TrainConfig:
    # --- data
    train_file: str  # canonical JSONL (pipeline/dataset.ts)
    output_dir: str  # model.onnx, HF model, tokenizer, metrics.jsonl, train_config.json, checkpoints/
    validation_file: Optional[str] = None  # per-epoch metrics and the ONNX parity set; None: train file
    hard_negatives: Optional[HardNegatives] = None
    task: Literal["auto", "multilabel", "multiclass"] = "auto"  # auto: a 0/1 list is multilabel, an int multiclass
    num_labels: int = 0  # 0: multilabel from the first row's width, multiclass from the largest index + 1
    label_names: Optional[list[str]] = None  # id2label of the HF config; default LABEL_0..
    entity_types: Optional[list[str]] = None  # entity span types to mask in x̂; None: every type
    # --- model
    model: str = "scratch"  # "scratch", a Hugging Face hub id, or a local folder
    scratch: ScratchModel = field(default_factory=ScratchModel)
    attn_implementation: str = (
        "auto"  # auto: "eager" in debiased mode (attention maps are needed), model default otherwise
    )
    max_length: int = 256  # the manual's; longer texts are truncated (tokenizer.json truncates the same)
    # --- optimisation (the manual's defaults: batch 32, lr 3e-5, warmup 0.1, wd 0.01, 5 epochs, seed 42)
    mode: Literal["baseline", "debiased", "embedding"] = "baseline"  # embedding: trainer/embedding.py
    batch_size: int = 32
    epochs: int = 5
    max_steps: int = 0  # 0: epochs decide; else stop after this many optimizer steps (schedule spans them)
    lr: float = 3e-5  # the manual's fine-tuning rate; a scratch model learns far faster at ~1e-3
    warmup_ratio: float = 0.1  # linear warmup over this share of the steps, then linear decay to 0
    weight_decay: float = 0.01  # AdamW; not applied to biases and LayerNorm weights (1-d parameters)
    grad_clip: float = 1.0  # max global gradient norm; 0 disables
    seed: int = 42  # the manual's
    group_by_length: bool = True  # batches of similar length waste less padding; order stays seeded
    threshold: float = 0.5  # multilabel decision threshold on sigmoid probabilities (the manual's)
    # --- debiased mode: L_total = L_all + L_mask + lambda * L_debias (trainer/losses.py, stages/train/README.md).
    # `loss` picks a preset that sets every knob below; a knob given explicitly overrides its preset
    # value (None: the preset's). The resolved config and train_config.json's effectiveLoss record what ran.
    loss: Literal["manual", "public"] = (
        "manual"  # manual: the manual's formulas; public: the authors' code, x and x̂ apart
    )
    alpha: Optional[float] = (
        None  # 0.7 in both presets: the public code's best search result (the manual names no value)
    )
    alpha_orientation: Optional[Literal["manual", "public"]] = (
        None  # manual: alpha weights the gold term; public: the teacher term
    )
    lambda_debias: Optional[float] = None  # 10 in both presets: the public code's best search result (on its KL scale)
    temperature: Optional[float] = None  # T of the teacher term: 1 (manual), 2 (public)
    temperature_scope: Optional[Literal["teacher", "both"]] = None  # teacher: only P(y|x) is softened (both presets)
    temperature_squared: Optional[bool] = None  # multiply the teacher term by T^2 (Hinton); false in both presets
    debias_heads: Optional[Literal["perHead", "mean"]] = (
        None  # KL per attention head (both presets), or of head-averaged maps
    )
    debias_normalisation: Optional[Literal["renormalised", "public"]] = (
        None  # manual: renormalised rows; public: as the authors' code
    )
    # --- embedding mode (trainer/embedding.py): MultipleNegativesRankingLoss over scale·cos
    scale: float = 20.0  # inverse temperature of the cosine scores (sentence-transformers' default)
    text_prefix: str = ""  # prepended to every text, e.g. "query: " for the E5 family (docs/embedding.md)
    # Attention-probability dropout of the model in *both* modes (None: the model's own, 0.1 for BERT
    # and the scratch model). L_debias compares the maps before dropout, so debiased mode needs no
    # other value than the baseline: a comparison differs only where a pipeline says so.
    attention_dropout: Optional[float] = None
    adapter: Optional[Adapter] = None  # None: full fine-tuning (every weight trains)
    # --- running
    checkpoint_every: int = 500  # optimizer steps between checkpoints (plus one at each epoch end); 0: epoch ends only
    keep_checkpoints: int = 3  # newest checkpoint folders kept on disk (the train stage uploads each); 0: all
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when available
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA that supports it, fp32 on CPU
    log_every: int = 10  # steps between human log lines on stderr (JSON step events go out every step)
    onnx_opset: int = 17  # LayerNormalization is a single op from 17; onnxruntime-node 1.30 runs it
    parity_tolerance: float = 1e-4  # max |ONNX - PyTorch| logit difference on the validation set
    debug: Debug = field(default_factory=Debug)

    def to_json(self) -> dict:
        return _to_camel_dict(self)


# Keys that may differ between a run and its resumption: where things are, how often to save,
# which device. Everything else changes what the run computes, so a resume refuses a change.
RESUME_MAY_CHANGE = {
    "trainFile",
    "validationFile",
    "outputDir",
    "hardNegatives.path",
    "checkpointEvery",
    "keepCheckpoints",
    "device",
    "logEvery",
}


def snake_to_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _to_camel_dict(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj):
        return {snake_to_camel(f.name): _to_camel_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list):
        return [_to_camel_dict(v) for v in obj]
    return obj


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_type_name(typing.get_args(tp)[0])}"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Checks `value` against the annotation `tp` (the few shapes the config uses) and converts it."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(key, f"{key} must be one of {_type_name(tp)}, got {json.dumps(value)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"{key} must be {_type_name(tp)}, got {json.dumps(value)}")
        return [_coerce(v, typing.get_args(tp)[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(key, f"{key} must be an object, got {json.dumps(value)}")
        return _from_dict(tp, value, key + ".")
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(tp)
    if not ok:
        raise ConfigError(key, f"{key} must be {_type_name(tp)}, got {json.dumps(value)}")
    return float(value) if tp is float else value


def _from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    fields = {snake_to_camel(f.name): f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            camel = snake_to_camel(key)  # a snake_case spelling of a real key
            guess = [camel] if camel in fields else difflib.get_close_matches(key, list(fields), n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            raise ConfigError(prefix + key, f"unknown config key {prefix + key!r}{hint}")
    kwargs = {}
    for key, f in fields.items():
        if key in data:
            kwargs[f.name] = _coerce(data[key], hints[f.name], prefix + key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(prefix + key, f"missing required config key {prefix + key!r}")
    return cls(**kwargs)


def _check(condition: bool, key: str, message: str) -> None:
    if not condition:
        raise ConfigError(key, f"{key} {message}")


def validate(cfg: TrainConfig) -> TrainConfig:
    """Range checks and file existence; raises ConfigError naming the key."""
    # embedding mode may train 0 epochs: the pretrained model exported as it is (the "no training" row)
    _check(
        cfg.epochs > 0 or (cfg.mode == "embedding" and cfg.epochs == 0), "epochs", f"must be positive, got {cfg.epochs}"
    )
    _check(cfg.scale > 0, "scale", f"must be positive, got {cfg.scale}")
    for key, value in [
        ("batchSize", cfg.batch_size),
        ("maxLength", cfg.max_length),
        ("scratch.hidden", cfg.scratch.hidden),
        ("scratch.layers", cfg.scratch.layers),
        ("scratch.heads", cfg.scratch.heads),
        ("scratch.intermediate", cfg.scratch.intermediate),
        ("scratch.vocabSize", cfg.scratch.vocab_size),
        ("onnxOpset", cfg.onnx_opset),
    ]:
        _check(value > 0, key, f"must be positive, got {value}")
    for key, value in [
        ("maxSteps", cfg.max_steps),
        ("numLabels", cfg.num_labels),
        ("checkpointEvery", cfg.checkpoint_every),
        ("keepCheckpoints", cfg.keep_checkpoints),
        ("debug.nanAtStep", cfg.debug.nan_at_step),
        ("logEvery", cfg.log_every),
    ]:
        _check(value >= 0, key, f"must be zero or positive, got {value}")
    _check(cfg.lr > 0, "lr", f"must be positive, got {cfg.lr}")
    _check(0 <= cfg.warmup_ratio < 1, "warmupRatio", f"must be in [0, 1), got {cfg.warmup_ratio}")
    _check(cfg.weight_decay >= 0, "weightDecay", f"must be zero or positive, got {cfg.weight_decay}")
    _check(cfg.grad_clip >= 0, "gradClip", f"must be zero or positive, got {cfg.grad_clip}")
    _check(0 < cfg.threshold < 1, "threshold", f"must be in (0, 1), got {cfg.threshold}")
    _check(0 <= cfg.alpha <= 1, "alpha", f"must be in [0, 1], got {cfg.alpha}")
    _check(cfg.lambda_debias >= 0, "lambdaDebias", f"must be zero or positive, got {cfg.lambda_debias}")
    _check(cfg.temperature > 0, "temperature", f"must be positive, got {cfg.temperature}")
    if cfg.attention_dropout is not None:
        _check(0 <= cfg.attention_dropout < 1, "attentionDropout", f"must be in [0, 1), got {cfg.attention_dropout}")
    _check(0 <= cfg.scratch.dropout < 1, "scratch.dropout", f"must be in [0, 1), got {cfg.scratch.dropout}")
    _check(
        cfg.scratch.hidden % cfg.scratch.heads == 0,
        "scratch.heads",
        f"must divide scratch.hidden ({cfg.scratch.hidden}), got {cfg.scratch.heads}",
    )
    _check(cfg.parity_tolerance > 0, "parityTolerance", f"must be positive, got {cfg.parity_tolerance}")
    _check(
        cfg.attn_implementation in ("auto", "eager", "sdpa"),
        "attnImplementation",
        f'must be "auto", "eager" or "sdpa", got {json.dumps(cfg.attn_implementation)}',
    )
    _check(
        not (cfg.mode == "debiased" and cfg.attn_implementation == "sdpa"),
        "attnImplementation",
        'must be "eager" (or "auto") in debiased mode: L_debias needs the attention maps',
    )
    if cfg.adapter is not None:
        _check(cfg.adapter.r > 0, "adapter.r", f"must be positive, got {cfg.adapter.r}")
        _check(cfg.adapter.alpha > 0, "adapter.alpha", f"must be positive, got {cfg.adapter.alpha}")
        _check(0 <= cfg.adapter.dropout < 1, "adapter.dropout", f"must be in [0, 1), got {cfg.adapter.dropout}")
        if cfg.adapter.target_modules is not None:
            _check(len(cfg.adapter.target_modules) > 0, "adapter.targetModules", "must name at least one module")
    if cfg.hard_negatives is not None:
        _check(
            cfg.hard_negatives.weight > 0, "hardNegatives.weight", f"must be positive, got {cfg.hard_negatives.weight}"
        )
    if cfg.label_names is not None:
        _check(len(cfg.label_names) > 0, "labelNames", "must not be empty")
        _check(
            cfg.num_labels in (0, len(cfg.label_names)),
            "labelNames",
            f"has {len(cfg.label_names)} names but numLabels is {cfg.num_labels}",
        )
    for key, path in [
        ("trainFile", cfg.train_file),
        ("validationFile", cfg.validation_file),
        ("hardNegatives.path", cfg.hard_negatives.path if cfg.hard_negatives else None),
    ]:
        if path is not None:
            _check(Path(path).is_file(), key, f"names a file that does not exist: {path}")
    if cfg.model != "scratch" and (cfg.model.startswith((".", "/", "~")) or Path(cfg.model).exists()):
        _check(Path(cfg.model).expanduser().is_dir(), "model", f"names a folder that does not exist: {cfg.model}")
    return cfg


# The loss presets (DESIGN.md "The science"; formulas in trainer/losses.py). Every knob of the
# debiased loss, per preset; a knob set in the config overrides its preset's value.
LOSS_PRESETS: dict[str, dict[str, Any]] = {
    # The manual's formulas literally. The manual names no alpha or lambda: the public code's best
    # search result stands in for both.
    "manual": {
        "alpha": 0.7,
        "alpha_orientation": "manual",
        "lambda_debias": 10.0,
        "temperature": 1.0,
        "temperature_scope": "teacher",
        "temperature_squared": False,
        "debias_heads": "perHead",
        "debias_normalisation": "renormalised",
    },
    # The authors' public code (train_multi_debiasing.py) as meant: DistillationBCELoss(alpha 0.7,
    # temperature 2) and its attention KL, lambda 10, with x and x̂ as two tensors.
    "public": {
        "alpha": 0.7,
        "alpha_orientation": "public",
        "lambda_debias": 10.0,
        "temperature": 2.0,
        "temperature_scope": "teacher",
        "temperature_squared": False,
        "debias_heads": "perHead",
        "debias_normalisation": "public",
    },
}

# Keys of train_config.json that the trainer derives and never reads back.
DERIVED_KEYS = ("effectiveLoss",)


def resolve_loss(cfg: TrainConfig) -> TrainConfig:
    """Fills every loss knob left unset (None) with its preset's value."""
    preset = LOSS_PRESETS[cfg.loss]
    return dataclasses.replace(cfg, **{k: v for k, v in preset.items() if getattr(cfg, k) is None})


def effective_loss(cfg: TrainConfig) -> dict:
    """What the run minimises: a formula in words and symbols plus every number in it, and the knobs
    that differ from the preset. Written to train_config.json (`effectiveLoss`) and the start event."""
    if cfg.mode == "embedding":
        return {
            "mode": "embedding",
            "formula": (
                "L = mean_i CE(scale·cos(a_i, [p_1..p_B, n_1..n_M]), i): MultipleNegativesRankingLoss, "
                "candidates = every positive of the batch then every explicit hard negative of the batch"
            ),
            "preset": None,
            "values": {"scale": cfg.scale},
            "overrides": [],
        }
    if cfg.mode == "baseline":
        return {
            "mode": "baseline",
            "formula": "L_total = L_all = BCE(P(y|x), y)",
            "preset": None,
            "values": {},
            "overrides": [],
        }
    gold = "α" if cfg.alpha_orientation == "manual" else "(1−α)"
    teacher = "(1−α)" if cfg.alpha_orientation == "manual" else "α"
    t = f"{cfg.temperature:g}"
    p_teacher = "P(y|x)" if cfg.temperature == 1 else f"P(y|x; T={t})"
    p_student = "P(y|x̂)" if cfg.temperature == 1 or cfg.temperature_scope == "teacher" else f"P(y|x̂; T={t})"
    squared = f"·T²" if cfg.temperature_squared else ""
    heads = "per head" if cfg.debias_heads == "perHead" else "of head-averaged maps"
    if cfg.debias_normalisation == "renormalised":
        debias = (
            f"L_debias = mean over layers of mean over kept (head, query) rows of KL(attn(x̂).detach() ‖ attn(x)) "
            f"({heads}), rows restricted to kept keys (non-entity, non-padding) and renormalised"
        )
    else:
        debias = (
            f"L_debias = mean over layers, heads and kept rows of KL(attn(x̂).detach() ‖ attn(x) + 1e-9) / "
            f"(kept rows of the example) ({heads}), rows restricted to kept keys, not renormalised (the authors' code)"
        )
    formula = (
        f"L_total = L_all + L_mask + λ·L_debias; L_all = BCE(P(y|x), y); "
        f"L_mask = {gold}·BCE(P(y|x̂), y) + {teacher}{squared}·BCE({p_student}, {p_teacher}.detach()); {debias}"
    )
    values = {k: getattr(cfg, k) for k in LOSS_PRESETS[cfg.loss]}
    overrides = [snake_to_camel(k) for k, v in values.items() if v != LOSS_PRESETS[cfg.loss][k]]
    return {
        "mode": "debiased",
        "formula": formula,
        "preset": cfg.loss,
        "values": {snake_to_camel(k): v for k, v in values.items()},
        "overrides": overrides,
    }


def config_from_dict(data: Any) -> TrainConfig:
    if not isinstance(data, dict):
        raise ConfigError("", "the config must be a JSON object")
    data = {k: v for k, v in data.items() if k not in DERIVED_KEYS}
    return validate(resolve_loss(_from_dict(TrainConfig, data)))


def load_config(path: str | Path) -> TrainConfig:
    """Reads and validates a config file; relative paths (data, outputDir, a `./` or `../` model
    folder) resolve against the config file's folder."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--config", f"config file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError("--config", f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    if isinstance(data, dict):
        base = path.resolve().parent
        for key in ("trainFile", "validationFile", "outputDir"):
            if isinstance(data.get(key), str):
                data[key] = str(base / Path(data[key]).expanduser())
        model = data.get("model")
        if isinstance(model, str) and model.startswith(("./", "../")):  # a local folder, not a hub id
            data["model"] = str(base / model)
        negatives = data.get("hardNegatives")
        if isinstance(negatives, dict) and isinstance(negatives.get("path"), str):
            negatives["path"] = str(base / Path(negatives["path"]).expanduser())
    return config_from_dict(data)


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[str]:
    """camelCase keys (dotted when nested) whose values differ between two `to_json()` dicts."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, prefix + key + ".")
        elif a != b:
            keys.append(prefix + key)
    return keys
