"""Models and tokenizers: a hub id or local folder (AutoModelForSequenceClassification /
AutoTokenizer), or `scratch`, a small BERT trained from zero with a WordPiece vocabulary learned
from the training text by the `tokenizers` library."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    PreTrainedTokenizerFast,
)

from .config import TrainConfig
from .data import LabelSpec
from .errors import ConfigError, TrainerError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# Config attributes that hold the dropout of attention probabilities, across architectures.
ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")


def train_wordpiece(texts: list[str], vocab_size: int, max_length: int) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer learned from `texts`, the same for the same texts.

    Cased and without accent stripping: BERT's uncased normaliser decomposes Hangul syllables
    into jamo (NFD) and strips them, which destroys Korean text. NFC keeps composed syllables.

    Determinism: tokenizers' WordPiece trainer gives the `##x` continuation tokens ids in hash-map
    order, and those ids break ties between equally frequent merges, so two trainings on the same
    text can learn different vocabularies (huggingface/tokenizers#1794). Every `##x` is therefore
    registered up front, sorted, so no id depends on hash order; the model is then rebuilt from the
    learned vocabulary with only the five real special tokens.
    """
    normalizer = normalizers.Sequence(
        [
            normalizers.NFC(),
            normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
            ),
        ]
    )
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    continuing = set()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            continuing.update("##" + c for c in word[1:])
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + sorted(continuing), show_progress=False
    )
    learner = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    learner.normalizer, learner.pre_tokenizer = normalizer, pre_tokenizer
    learner.train_from_iterator(texts, trainer=trainer)

    tok = Tokenizer(models.WordPiece(vocab=learner.get_vocab(), unk_token="[UNK]"))
    tok.normalizer, tok.pre_tokenizer = normalizer, pre_tokenizer
    tok.add_special_tokens(SPECIAL_TOKENS)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def attn_implementation(cfg: TrainConfig) -> str | None:
    if cfg.attn_implementation != "auto":
        return cfg.attn_implementation
    # L_debias reads the attention maps, which only the eager implementation returns.
    return "eager" if cfg.mode == "debiased" else None


def _label_kwargs(spec: LabelSpec) -> dict:
    return {
        "num_labels": spec.num_labels,
        "problem_type": spec.problem_type,
        "id2label": dict(enumerate(spec.names)),
        "label2id": {n: i for i, n in enumerate(spec.names)},
    }


def _attention_dropout(config, cfg: TrainConfig) -> None:
    """`attentionDropout`, when set, in both modes alike. Debiased mode does not need it off: L_debias
    reads the maps before dropout (AttentionMaps), so both modes train with the same dropout."""
    if cfg.attention_dropout is not None:
        for key in ATTENTION_DROPOUT_KEYS:
            if hasattr(config, key):
                setattr(config, key, cfg.attention_dropout)


class AttentionMaps:
    """Each layer's attention probabilities *before* attention dropout, recorded during a forward.

    Hugging Face returns the maps after dropout (zeroed entries, rows not summing to 1; a KL
    against a zeroed entry is infinite). The eager self-attention of BERT-style models (BERT,
    XLM-RoBERTa, ELECTRA, …) passes its softmax through its `dropout` module, so a pre-hook on that
    module sees the distributions themselves, with their autograd history, while the layer's
    output still gets dropout as in the baseline.
    """

    def __init__(self, model: torch.nn.Module):
        self.modules = [
            m.dropout
            for _, m in model.named_modules()
            if type(m).__name__.endswith("SelfAttention") and isinstance(getattr(m, "dropout", None), torch.nn.Dropout)
        ]
        self.layers = getattr(model.config, "num_hidden_layers", None)
        if not self.modules or (self.layers is not None and len(self.modules) != self.layers):
            raise ConfigError(
                "model",
                f"{type(model).__name__}: debiased mode needs an eager BERT-style self-attention "
                f"whose attention dropout it can observe; found {len(self.modules)} of {self.layers} layers",
            )
        self._maps: list[torch.Tensor] | None = None
        self._handles = [d.register_forward_pre_hook(self._record) for d in self.modules]

    def _record(self, _module, args):
        if self._maps is not None:
            self._maps.append(args[0])

    def __call__(self, forward) -> tuple:
        """Runs `forward()` and returns (its result, the attention maps it computed, one per layer)."""
        self._maps = []
        try:
            result = forward()
            maps = tuple(self._maps)
        finally:
            self._maps = None
        if len(maps) != len(self.modules):
            raise TrainerError(
                f"recorded {len(maps)} attention maps for {len(self.modules)} layers: "
                f"is the model running eager attention?",
                key="attnImplementation",
            )
        return result, maps

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def scratch_bert_config(cfg: TrainConfig, tokenizer, **extra) -> BertConfig:
    """The BertConfig of a scratch model from the `scratch` settings and its trained tokenizer
    (the classifier adds its labels; the embedding mode's encoder takes it as it is)."""
    s = cfg.scratch
    return BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=s.hidden,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        intermediate_size=s.intermediate,
        hidden_dropout_prob=s.dropout,
        attention_probs_dropout_prob=s.dropout,
        max_position_embeddings=max(512, cfg.max_length),
        pad_token_id=tokenizer.pad_token_id,
        **extra,
    )


def scratch_model(cfg: TrainConfig, spec: LabelSpec, texts: list[str]):
    tokenizer = train_wordpiece(texts, cfg.scratch.vocab_size, cfg.max_length)
    config = scratch_bert_config(cfg, tokenizer, **_label_kwargs(spec))
    _attention_dropout(config, cfg)
    model = AutoModelForSequenceClassification.from_config(config, attn_implementation=attn_implementation(cfg))
    return model, tokenizer


def _load_failure(source: str, e: Exception) -> TrainerError:
    """An unreachable hub may come back (a retry can help); a model that is not there will not."""
    message = f"cannot load model {source!r}: {e}"
    offline = any(
        os.environ.get(v, "").lower() in ("1", "true", "yes") for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )
    if "couldn't connect" in str(e).lower() and not offline:
        return TrainerError(message + " (set HF_HUB_OFFLINE=1 to fail at once without a hub)", key="model")
    return ConfigError("model", message)


# transformers 4.57.3+ warns "incorrect regex pattern ... This will lead to incorrect tokenization"
# for every local folder saved by 4.57.x with a vocabulary over 100k, whatever its model type
# (huggingface/transformers#44031; fixed upstream by #45444). multilingual-e5-small trips it,
# though its XLM-R tokenizer splits with Metaspace and has no such regex (the suggested
# `fix_mistral_regex=True` even crashes on it). Passing False is what silences it; it changes
# nothing for these models (the same ids), and Mistral-type models keep the warning.
MISTRAL_MODEL_TYPES = {"mistral", "mistral3", "voxtral", "ministral", "pixtral"}


def tokenizer_kwargs(model_type: str | None) -> dict:
    return {} if model_type in MISTRAL_MODEL_TYPES else {"fix_mistral_regex": False}


def pretrained_model(source: str, cfg: TrainConfig, spec: LabelSpec, resuming: bool = False):
    """Loads from a hub id or folder (a checkpoint folder on resume: it has our head already)."""
    try:
        config = (
            AutoConfig.from_pretrained(source)
            if resuming
            else AutoConfig.from_pretrained(source, **_label_kwargs(spec))
        )
        tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, **tokenizer_kwargs(config.model_type))
    except (OSError, ValueError) as e:
        raise _load_failure(source, e) from None
    if not tokenizer.is_fast:
        raise ConfigError("model", f"{source!r} has no fast tokenizer: offsets and tokenizer.json need one")
    if tokenizer.mask_token_id is None and cfg.mode == "debiased":
        raise ConfigError("model", f"{source!r}'s tokenizer has no mask token: x̂ needs one")
    if tokenizer.pad_token_id is None:
        raise ConfigError("model", f"{source!r}'s tokenizer has no padding token")
    if tokenizer.model_max_length > 100_000:  # "unset" in HF is a huge sentinel
        tokenizer.model_max_length = cfg.max_length
    _attention_dropout(config, cfg)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, config=config, attn_implementation=attn_implementation(cfg), ignore_mismatched_sizes=not resuming
        )
    except (OSError, ValueError) as e:
        raise _load_failure(source, e) from None
    return model, tokenizer


def build_model(cfg: TrainConfig, spec: LabelSpec, texts: list[str], resume_dir: Path | None = None):
    """(model, tokenizer) on CPU, float32. Seeded by the caller: head initialisation draws from torch's RNG."""
    if resume_dir is not None:
        return pretrained_model(str(resume_dir), cfg, spec, resuming=True)
    if cfg.model == "scratch":
        return scratch_model(cfg, spec, texts)
    return pretrained_model(
        str(Path(cfg.model).expanduser()) if Path(cfg.model).expanduser().exists() else cfg.model, cfg, spec
    )


class ExportWrapper(torch.nn.Module):
    """What model.onnx computes: (logits, embedding), embedding = the last layer's hidden state at
    position 0 ([CLS] / <s>), the same definition for every architecture."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        return out.logits, out.hidden_states[-1][:, 0]
