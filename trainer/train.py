"""
Trains a bias-aware text classifier: a baseline, or the bidirectional-distillation debiased model.

    python -m trainer train --config run.json                                  # train
    python -m trainer train --config run.json --resume out/checkpoints/step-500  # continue a run
    python -m trainer train --resume out/checkpoints/step-500                  # same, config from the checkpoint
    torchrun --standalone --nproc_per_node=4 -m trainer train --config run.json  # DDP on 4 GPUs

A minimal config (camelCase keys; every key and its default: trainer/config.py):

    {"trainFile": "train.jsonl", "validationFile": "valid.jsonl", "outputDir": "out",
     "mode": "debiased", "model": "scratch", "lr": 1e-3, "epochs": 3}

Rows are canonical JSONL (pipeline/dataset.ts). stdout carries one JSON event per line (phase,
start, step, checkpoint, epoch, done, stopped, error: stages/train/README.md); human logs go
to stderr. Exit codes: 0 done, 2 config/data error, 3 NaN loss, 4 out of memory, 1 anything
else, 128+N stopped by signal N (SIGTERM: 143), after writing a checkpoint if it came during
training.

outputDir receives model.onnx (outputs logits and embedding), the Hugging Face model
(config.json, model.safetensors, tokenizer.json + tokenizer files), metrics.jsonl,
train_config.json (the resolved config) and checkpoints/step-N/ (each a loadable HF model plus
trainer_state.pt: optimizer, scheduler, RNG states, position, config). With an `adapter`
(trainer/adapters.py) the HF model and model.onnx are the merged model, adapter/ holds the
adapter alone, and each checkpoint holds the adapter and head instead of the whole model.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import signal
import sys
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import get_linear_schedule_with_warmup

from .config import RESUME_MAY_CHANGE, TrainConfig, changed_keys, config_from_dict, effective_loss, load_config
from .data import (
    MULTILABEL,
    Encoded,
    LabelSpec,
    check_labels,
    collate,
    encode,
    epoch_batches,
    file_sha256,
    label_spec,
    read_rows,
)
from .errors import ConfigError, DataError, NanLossError, OutOfMemory, Stopped, TrainerError
from . import adapters, lifeline
from .events import Events, log
from .export import export_onnx, onnx_parity, save_hf, tokenizer_parity
from .losses import loss_all, loss_debias, loss_mask, per_example_loss, probabilities
from .modeling import AttentionMaps, build_model

STATE_FILE = "trainer_state.pt"
CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.jsonl"
PARITY_ROWS = 2048  # ONNX/tokenizer parity runs on at most this many validation rows


# -----------------------------------------------------------------------------------------------
# setup: determinism, devices, distribution


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(cfg: TrainConfig, dist: Dist) -> torch.device:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", 'device is "cuda" but no CUDA device is available')
    if cfg.device == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    torch.cuda.set_device(dist.local_rank)
    return torch.device("cuda", dist.local_rank)


def make_deterministic(seed: int, device: torch.device) -> None:
    """Seeds python, numpy and torch; deterministic kernels (strict on CPU; CUDA warns where it cannot)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS; read at its first use
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=device.type == "cuda")
    # Denormal floats (weights and activations decaying towards 0) run ~100x slower on x86 CPUs;
    # flushing them to zero costs nothing measurable in accuracy.
    torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False


def autocast(cfg: TrainConfig, device: torch.device):
    """bf16 autocast on CUDA (precision auto/bf16), nothing on CPU: CPU runs and tests stay fp32."""
    bf16 = device.type == "cuda" and (
        cfg.precision == "bf16" or (cfg.precision == "auto" and torch.cuda.is_bf16_supported())
    )
    return torch.autocast("cuda", dtype=torch.bfloat16) if bf16 else nullcontext()


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; biases and LayerNorm weights (the 1-d parameters) get no weight decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -----------------------------------------------------------------------------------------------
# the training step


class PairForward(torch.nn.Module):
    """Both passes in one forward call: x, and in debiased mode x̂ (a different tensor) with
    attention maps (before attention dropout: modeling.AttentionMaps). One module call per step
    keeps DDP to one forward per backward."""

    def __init__(self, model: torch.nn.Module, debiased: bool = False):
        super().__init__()
        self.model = model
        self.maps = AttentionMaps(model) if debiased else None

    def forward(self, input_ids, attention_mask, input_ids_hat=None):
        if input_ids_hat is None:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits, None, None, None
        if self.maps is None:
            raise ValueError("PairForward was built for the baseline: no attention maps to record for x̂")
        x, att_x = self.maps(lambda: self.model(input_ids=input_ids, attention_mask=attention_mask))
        x_hat, att_hat = self.maps(lambda: self.model(input_ids=input_ids_hat, attention_mask=attention_mask))
        return x.logits, att_x, x_hat.logits, att_hat


def compute_losses(
    net: torch.nn.Module, batch: dict, cfg: TrainConfig, spec: LabelSpec, inject_nan: bool = False
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """L_total and its terms for one batch (formulas: trainer/losses.py)."""
    logits_x, att_x, logits_hat, att_hat = net(batch["input_ids"], batch["attention_mask"], batch.get("input_ids_hat"))
    logits_x = logits_x.float()
    if inject_nan:  # config debug.nanAtStep: the real NaN path, end to end
        logits_x = logits_x * float("nan")
    terms = {"loss_all": loss_all(logits_x, batch["labels"], batch["weights"], spec.task)}
    if cfg.mode == "debiased":
        terms["loss_mask"] = loss_mask(
            logits_hat.float(),
            logits_x,
            batch["labels"],
            batch["weights"],
            spec.task,
            cfg.alpha,
            cfg.temperature,
            cfg.alpha_orientation,
            cfg.temperature_scope,
            cfg.temperature_squared,
        )
        keep = batch["attention_mask"].bool() & ~batch["entity_mask"]
        terms["loss_debias"] = loss_debias(
            att_x, att_hat, keep, per_head=cfg.debias_heads == "perHead", normalisation=cfg.debias_normalisation
        )
        total = terms["loss_all"] + terms["loss_mask"] + cfg.lambda_debias * terms["loss_debias"]
    else:
        total = terms["loss_all"]
    return total, terms


def check_finite(step: int, **values: float) -> None:
    for term, value in values.items():
        if not math.isfinite(value):
            raise NanLossError(step, term, value)


# -----------------------------------------------------------------------------------------------
# evaluation


def predict(
    model: torch.nn.Module, data: Encoded, spec: LabelSpec, batch_size: int, pad_id: int, device: torch.device, ctx
) -> torch.Tensor:
    """Logits for every row (float32, CPU), batched by length, in row order."""
    order = sorted(range(len(data)), key=lambda i: data.lengths[i])
    logits = torch.zeros((len(data), spec.num_labels))
    model.eval()
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = collate(data, idx, spec, pad_id, None)
            with ctx:
                out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
            logits[idx] = out.logits.float().cpu()
    return logits


def classification_metrics(logits: torch.Tensor, labels: list, spec: LabelSpec, threshold: float) -> dict:
    """Loss, macro/micro F1 (scikit-learn) and F1 per label; multiclass micro F1 is accuracy."""
    if spec.task == MULTILABEL:
        y = torch.tensor(labels, dtype=torch.float32)
        pred = (probabilities(logits, spec.task) > threshold).int().numpy()
        truth = y.int().numpy()
    else:
        y = torch.tensor(labels, dtype=torch.long)
        pred, truth = logits.argmax(dim=-1).numpy(), y.numpy()
    kw = {"zero_division": 0} | ({} if spec.task == MULTILABEL else {"labels": list(range(spec.num_labels))})
    per_label = f1_score(truth, pred, average=None, **kw)
    return {
        "loss": float(per_example_loss(logits, y, spec.task).mean()),
        "macro_f1": float(f1_score(truth, pred, average="macro", **kw)),
        "micro_f1": float(f1_score(truth, pred, average="micro", **kw)),
        "f1_per_label": {name: float(v) for name, v in zip(spec.names, per_label)},
        "examples": len(labels),
    }


# -----------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(
    root: Path,
    step: int,
    model,
    tokenizer,
    cfg: TrainConfig,
    optimizer,
    scheduler,
    position: tuple[int, int],
    digests: dict,
    metrics_file: Path,
    epoch_loss: tuple[float, int],
    train_seconds: float = 0.0,
) -> Path:
    """checkpoints/step-N: the HF model + tokenizer, trainer_state.pt, train_config.json and the
    metrics so far. Written under a temporary name and renamed, so a folder that exists is complete."""
    final = root / f"step-{step}"
    tmp = root / f".step-{step}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / CONFIG_FILE).write_text(_json(resolved_json(cfg)), encoding="utf-8")
    if metrics_file.exists():
        shutil.copyfile(metrics_file, tmp / METRICS_FILE)
    torch.save(
        {
            "step": step,
            "epoch": position[0],
            "next_batch": position[1],
            "config": cfg.to_json(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": rng_state(),
            "data_sha256": digests,
            "epoch_loss": epoch_loss,
            "train_seconds": train_seconds,  # training time so far, so a resumed run reports all of it
        },
        tmp / STATE_FILE,
    )
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final


def checkpoint_folders(root: Path) -> list[tuple[int, Path]]:
    """The step-N folders under `root`, oldest first."""
    return sorted((int(p.name[5:]), p) for p in root.glob("step-*") if p.name[5:].isdigit())


def prune_checkpoints(root: Path, keep: int) -> None:
    """Keeps the `keep` newest step-N folders (0: all)."""
    if keep > 0:
        for _, path in checkpoint_folders(root)[:-keep]:
            shutil.rmtree(path, ignore_errors=True)


def remove_stale_checkpoints(root: Path, after_step: int) -> None:
    """Checkpoints past the step this run starts from belong to an earlier run of the same
    outputDir; left in place they would outrank (and get) this run's own when pruning."""
    for step, path in checkpoint_folders(root):
        if step > after_step:
            log(f"removing {path}: a checkpoint of an earlier run past step {after_step}")
            shutil.rmtree(path, ignore_errors=True)


def load_checkpoint_state(path: Path) -> dict:
    if not (path / STATE_FILE).is_file():
        raise ConfigError("--resume", f"not a checkpoint folder (no {STATE_FILE}): {path}")
    # Our own file: it holds numpy RNG state, which the weights-only unpickler refuses.
    return torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)


def resolved_json(cfg: TrainConfig) -> dict:
    """train_config.json: the resolved config plus the loss it makes (`effectiveLoss`, derived, never read back)."""
    return cfg.to_json() | {"effectiveLoss": effective_loss(cfg)}


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2) + "\n"


# -----------------------------------------------------------------------------------------------
# signals


class StopSignal:
    """SIGTERM/SIGINT. While `deferred` (the training loop), the flag is only set: the loop
    finishes its step, writes a checkpoint and raises Stopped. Elsewhere (setup, export) the
    handler raises Stopped at once. Further SIGTERMs are ignored (one stop may come from several
    senders: the train stage, the parent-death signal and the stdin lifeline of trainer/lifeline.py);
    a second SIGINT (Ctrl-C twice) exits immediately."""

    def __init__(self):
        self.signum: int | None = None
        self.deferred = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            if signum == signal.SIGINT:
                os._exit(128 + signum)
            return
        self.signum = signum
        if not self.deferred:
            raise Stopped(signum)

    def install(self) -> "StopSignal":
        for s in (signal.SIGTERM, signal.SIGINT):
            self._previous[s] = signal.signal(s, self._handle)
        return self

    def uninstall(self) -> None:
        """Restores the previous handlers; after a stop, later SIGTERMs are ignored instead, so a
        late duplicate cannot kill the process on its way out with another exit status."""
        for s, handler in self._previous.items():
            signal.signal(s, signal.SIG_IGN if self.signum is not None and s == signal.SIGTERM else handler)
        self._previous.clear()


def stop_requested(stop: StopSignal, dist: Dist, device: torch.device) -> bool:
    """Whether any rank got a signal (all ranks must stop at the same step)."""
    flag = stop.signum is not None
    if dist.world > 1:
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
        flag = bool(t.item())
    return flag


# -----------------------------------------------------------------------------------------------
# outputs


def export_outputs(
    model, tokenizer, cfg: TrainConfig, spec: LabelSpec, rows: list, data: Encoded, out: Path, events: Events, step: int
) -> dict:
    """The HF model, tokenizer.json and model.onnx in `out`, each checked against the model and
    tokenizer in memory on the first PARITY_ROWS of `rows` (validation rows, else training rows),
    whose token ids `data` already holds. Returns the parity figures."""
    model.cpu().eval()
    events.emit("phase", name="export", step=step)
    save_hf(model, tokenizer, out, cfg.max_length)
    export_onnx(model, out / "model.onnx", tokenizer.pad_token_id, cfg.onnx_opset)
    events.emit("phase", name="parity", step=step)
    n = min(len(rows), PARITY_ROWS)
    batches = [
        collate(data, list(range(i, min(i + 64, n))), spec, tokenizer.pad_token_id, None) for i in range(0, n, 64)
    ]
    parity = onnx_parity(model, out / "model.onnx", batches, cfg.parity_tolerance)
    return parity | tokenizer_parity(out / "tokenizer.json", [r.text for r in rows[:n]], data.input_ids[:n])


# -----------------------------------------------------------------------------------------------
# the run


def read_datasets(cfg: TrainConfig):
    train_rows = read_rows(cfg.train_file)
    spec = label_spec(cfg.task, cfg.num_labels, cfg.label_names, train_rows)
    if cfg.label_names is not None and len(cfg.label_names) != spec.num_labels:
        raise ConfigError("labelNames", f"labelNames has {len(cfg.label_names)} names for {spec.num_labels} labels")
    check_labels(train_rows, spec)
    extra = (
        read_rows(cfg.hard_negatives.path, cfg.hard_negatives.weight, allow_empty=True) if cfg.hard_negatives else []
    )
    check_labels(extra, spec)
    valid = read_rows(cfg.validation_file) if cfg.validation_file else []
    check_labels(valid, spec)
    digests = {"train": file_sha256(cfg.train_file)}
    if cfg.hard_negatives:
        digests["hard_negatives"] = file_sha256(cfg.hard_negatives.path)
    return train_rows, extra, valid, spec, digests


def check_resumable(state: dict, cfg: TrainConfig, digests: dict) -> None:
    changed = [k for k in changed_keys(state["config"], cfg.to_json()) if k not in RESUME_MAY_CHANGE]
    if changed:
        raise ConfigError(changed[0], f"the checkpoint was trained with other values of: {', '.join(changed)}")
    for name, digest in digests.items():
        if state["data_sha256"].get(name) != digest:
            raise DataError(f"the {name} data differs from the checkpoint's (sha256 {digest[:12]}…)")


def train(cfg: TrainConfig, resume: Path | None, events: Events, stop: StopSignal) -> dict:
    if cfg.mode == "embedding":  # a bi-encoder with its own loop and outputs
        from .embedding import train_embedding

        return train_embedding(cfg, resume, events, stop)
    t_start = time.time()
    dist = init_distributed()
    events.enabled = events.enabled and dist.main
    events.emit("phase", name="setup", step=0)  # a first line (heartbeat) before data and model load
    device = pick_device(cfg, dist)
    make_deterministic(cfg.seed, device)
    ctx = autocast(cfg, device)

    # data and labels; the resolved config records what "auto" became
    train_rows, extra_rows, valid_rows, spec, digests = read_datasets(cfg)
    cfg = replace(cfg, task=spec.task, num_labels=spec.num_labels, label_names=spec.names)
    state = load_checkpoint_state(resume) if resume else None
    if state:
        check_resumable(state, cfg, digests)

    # With an adapter, a checkpoint holds only the adapter and head: the base loads as at the start.
    model, tokenizer = build_model(cfg, spec, [r.text for r in train_rows], None if cfg.adapter else resume)
    if cfg.adapter:
        model = adapters.wrap(model, cfg, resume)
    adapters.reset_peak_memory(device)
    pad_id, mask_id = tokenizer.pad_token_id, tokenizer.mask_token_id if cfg.mode == "debiased" else None
    train_data = encode(train_rows + extra_rows, tokenizer, cfg.max_length, cfg.entity_types)
    valid_data = encode(valid_rows, tokenizer, cfg.max_length) if valid_rows else None
    n_batches = math.ceil(len(train_data) / cfg.batch_size) // dist.world  # epoch_batches' count, per process
    if n_batches == 0:
        raise DataError(f"{len(train_data)} training rows make no batch for {dist.world} processes")
    total_steps = n_batches * cfg.epochs if cfg.max_steps == 0 else min(n_batches * cfg.epochs, cfg.max_steps)
    counts = adapters.parameter_counts(model)
    n_params = counts["total_parameters"]
    entity_tokens = sum(sum(m) for m in train_data.entity_mask)
    if cfg.mode == "debiased" and entity_tokens == 0:
        log("warning: debiased mode, but no training row has an entity token: x̂ equals x everywhere")
    log(
        f"{cfg.mode} {spec.task} x{spec.num_labels}, {type(model).__name__} {n_params / 1e6:.2f}M params "
        f"({counts['trainable_parameters'] / 1e6:.3f}M trainable), "
        f"{len(train_data)} train rows ({len(extra_rows)} hard negatives), {len(valid_rows)} validation rows, "
        f"{total_steps} steps on {device}{f' x{dist.world}' if dist.world > 1 else ''}"
    )

    model.to(device)
    optimizer = build_optimizer(model, cfg)
    scheduler = get_linear_schedule_with_warmup(optimizer, math.ceil(cfg.warmup_ratio * total_steps), total_steps)
    step, epoch, next_batch = 0, 0, 0
    out = Path(cfg.output_dir)
    ckpt_root = out / "checkpoints"
    metrics_file = out / METRICS_FILE
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_FILE).write_text(_json(resolved_json(cfg)), encoding="utf-8")
        metrics_file.unlink(missing_ok=True)
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        step, epoch, next_batch = state["step"], state["epoch"], state["next_batch"]
        if dist.main and (resume / METRICS_FILE).is_file():
            shutil.copyfile(resume / METRICS_FILE, metrics_file)
        log(f"resumed from {resume} at step {step} (epoch {epoch + 1}, batch {next_batch})")
    if dist.main:
        remove_stale_checkpoints(ckpt_root, step)
    events.record_metrics_to(metrics_file)
    loss = effective_loss(cfg)
    log(
        f"loss: {loss['formula']}"
        + (f" with {json.dumps(loss['values'], ensure_ascii=False)}" if loss["values"] else "")
    )
    events.emit(
        "start",
        mode=cfg.mode,
        loss=loss,
        task=spec.task,
        labels=spec.num_labels,
        rows=len(train_data),
        entity_tokens=entity_tokens,
        step=step,
        of=total_steps,
        epochs=cfg.epochs,
        device=str(device),
        processes=dist.world,
        parameters=n_params,
        trainable_parameters=counts["trainable_parameters"],
    )
    pair = net = PairForward(model, debiased=cfg.mode == "debiased")
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            pair, device_ids=[device.index] if device.type == "cuda" else None
        )

    def checkpoint(position: tuple[int, int], epoch_loss: tuple[float, int] = (0.0, 0)) -> Path | None:
        if not dist.main:
            return None
        path = save_checkpoint(
            ckpt_root,
            step,
            model,
            tokenizer,
            cfg,
            optimizer,
            scheduler,
            position,
            digests,
            metrics_file,
            epoch_loss,
            train_seconds=prior_seconds + time.time() - t_loop,
        )
        prune_checkpoints(ckpt_root, cfg.keep_checkpoints)
        events.emit("checkpoint", path=str(path.resolve()), step=step, epoch=position[0] + (position[1] > 0))
        if lifeline.acks_enabled() and not lifeline.wait_for_ack(step, lambda: stop.signum is not None):
            log(f"checkpoint {step}: no acknowledgement from the train stage; continuing")
        return path

    def evaluate() -> dict:
        """The validation metrics of the model as it is now."""
        logits = predict(model, valid_data, spec, cfg.batch_size * 2, pad_id, device, ctx)
        return classification_metrics(logits, valid_data.labels, spec, cfg.threshold)

    last_checkpoint = None
    evaluated: tuple[int, dict] | None = None  # (step, metrics) of the last evaluation
    stop.deferred = True  # from here a signal means: finish the step, checkpoint, exit
    t_loop, samples, step_time = time.time(), 0, 0.0
    prior_seconds = state.get("train_seconds", 0.0) if state else 0.0  # spent before the resumed checkpoint
    while epoch < cfg.epochs and step < total_steps:
        batches = epoch_batches(train_data.lengths, cfg.batch_size, cfg.seed, epoch, cfg.group_by_length)
        batches = batches[: n_batches * dist.world][dist.rank :: dist.world]
        model.train()
        # the epoch's running loss; a mid-epoch checkpoint carries it, so train_loss covers the whole epoch
        epoch_loss, epoch_steps = state["epoch_loss"] if state and next_batch > 0 else (0.0, 0)
        for b in range(next_batch, n_batches):
            t_step = time.time()
            batch = {k: v.to(device) for k, v in collate(train_data, batches[b], spec, pad_id, mask_id).items()}
            with ctx:
                total, terms = compute_losses(net, batch, cfg, spec, inject_nan=cfg.debug.nan_at_step == step + 1)
            values = {"loss": total.item(), **{k: v.item() for k, v in terms.items()}}
            check_finite(step + 1, **values)  # before backward: a checkpoint never holds NaN weights
            optimizer.zero_grad(set_to_none=True)
            total.backward()
            max_norm = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
            check_finite(step + 1, grad_norm=grad_norm)
            optimizer.step()
            scheduler.step()
            step_seconds = time.time() - t_step
            step_time += step_seconds
            step += 1
            samples += len(batches[b]) * dist.world
            epoch_loss, epoch_steps = epoch_loss + values["loss"], epoch_steps + 1
            events.emit(
                "step",
                epoch=epoch + 1,
                step=step,
                of=total_steps,
                loss=values["loss"],
                loss_all=values["loss_all"],
                loss_mask=values.get("loss_mask"),
                loss_debias=values.get("loss_debias"),
                lr=scheduler.get_last_lr()[0],
                grad_norm=grad_norm,
                step_s=round(step_seconds, 5),
                elapsed_s=round(time.time() - t_loop, 3),
            )
            if cfg.log_every and step % cfg.log_every == 0:
                log(
                    f"step {step}/{total_steps} loss {values['loss']:.4f} "
                    f"({samples / (time.time() - t_loop):.1f} samples/s)"
                )
            if stop_requested(stop, dist, device):
                last_checkpoint = checkpoint((epoch, b + 1), (epoch_loss, epoch_steps))
                raise Stopped(
                    stop.signum or signal.SIGTERM, step, str(last_checkpoint.resolve()) if last_checkpoint else None
                )
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and b + 1 < n_batches and step < total_steps:
                last_checkpoint = checkpoint((epoch, b + 1), (epoch_loss, epoch_steps))
            if step >= total_steps:
                break
        next_batch = 0
        epoch_metrics = {"train_loss": epoch_loss / max(epoch_steps, 1)} if epoch_steps else {}
        if valid_data is not None and dist.main:
            evaluated = (step, evaluate())
            epoch_metrics |= evaluated[1]
        events.emit("epoch", epoch=epoch + 1, step=step, metrics=epoch_metrics)
        log(
            f"epoch {epoch + 1}/{cfg.epochs}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in epoch_metrics.items() if isinstance(v, float))
        )
        epoch += 1
        last_checkpoint = checkpoint((epoch, 0))
        if stop_requested(stop, dist, device):
            raise Stopped(
                stop.signum or signal.SIGTERM, step, str(last_checkpoint.resolve()) if last_checkpoint else None
            )
    stop.deferred = False
    if pair.maps is not None:
        pair.maps.remove()  # the exported model carries no hooks
    train_seconds = prior_seconds + time.time() - t_loop

    result = {}
    if dist.main:
        final = {
            "step": step,
            "train_rows": len(train_data),
            "train_seconds": round(train_seconds, 3),
            "samples_per_s": round(samples / step_time, 3) if samples and step_time > 0 else None,
            **counts,
            **adapters.peak_memory(device),  # training and its evaluations; export comes after
        }
        events.emit("cost", step=step, **{k: v for k, v in final.items() if k != "step"})
        if valid_data is not None:  # the last epoch end's evaluation, unless it was in an earlier run
            final |= evaluated[1] if evaluated is not None and evaluated[0] == step else evaluate()
        parity_rows, parity_data = (valid_rows, valid_data) if valid_data is not None else (train_rows, train_data)
        adapter_dir = None
        if cfg.adapter:  # the adapter as trained, then the merged model: what is exported and checked
            adapter_dir = adapters.save_adapter(model, out)
            probe = collate(parity_data, list(range(min(len(parity_data), 64))), spec, pad_id, None)
            model, merge_figures = adapters.merge(model.cpu(), probe)
            final |= merge_figures
        final |= export_outputs(model, tokenizer, cfg, spec, parity_rows, parity_data, out, events, step)
        outputs = {
            "dir": str(out.resolve()),
            "onnx": str((out / "model.onnx").resolve()),
            "tokenizer": str((out / "tokenizer.json").resolve()),
            "hf_model": str(out.resolve()),
            "metrics": str(metrics_file.resolve()),
            "config": str((out / CONFIG_FILE).resolve()),
            "checkpoint": str((last_checkpoint or resume).resolve()) if (last_checkpoint or resume) else None,
            "adapter": str(adapter_dir.resolve()) if adapter_dir else None,
        }
        result = events.emit("done", outputs=outputs, metrics=final)
        log(f"done in {time.time() - t_start:.1f}s: {out}")
    if dist.world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return result


# -----------------------------------------------------------------------------------------------
# command line


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):  # bad argv is a config error with an event, not argparse's exit 2 alone
        raise ConfigError("argv", message)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _ArgumentParser(prog="python -m trainer", description=__doc__.split("\n\n")[0].strip())
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a classifier")
    t.error = parser.error
    t.add_argument("--config", help="training config (JSON); default: the checkpoint's with --resume")
    t.add_argument("--resume", help="a checkpoint folder (outputDir/checkpoints/step-N) to continue from")
    args = parser.parse_args(argv)
    if not args.config and not args.resume:
        raise ConfigError("--config", "train needs --config (or --resume with a checkpoint folder)")
    return args


def resolve_config(args: argparse.Namespace) -> tuple[TrainConfig, Path | None]:
    resume = Path(args.resume).resolve() if args.resume else None
    if resume is not None and not resume.is_dir():
        raise ConfigError("--resume", f"checkpoint folder not found: {resume}")
    if args.config:
        return load_config(args.config), resume
    return config_from_dict(json.loads((resume / CONFIG_FILE).read_text(encoding="utf-8"))), resume


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or (
        isinstance(e, RuntimeError) and ("out of memory" in str(e) or "can't allocate memory" in str(e))
    )


def main(argv: list[str] | None = None, stdout=None) -> int:
    """Runs the command line; returns the exit code. Events go to `stdout` (default sys.stdout)."""
    events = Events(stdout)
    stop = StopSignal().install()
    try:
        cfg, resume = resolve_config(parse_args(sys.argv[1:] if argv is None else argv))
        train(cfg, resume, events, stop)
        return 0
    except TrainerError as e:
        events.emit("error", kind=e.kind, message=e.message, **e.context)
        log(f"error ({e.kind}): {e.message}")
        return e.exit_code
    except Stopped as e:
        name = signal.Signals(e.signum).name
        events.emit("stopped", signal=name, step=e.step, checkpoint=e.checkpoint)
        log(f"stopped by {name}")
        return 128 + e.signum
    except Exception as e:  # noqa: BLE001 - the last line of defence: every failure ends in an event
        traceback.print_exc(file=sys.stderr)
        if _is_oom(e):
            events.emit("error", kind=OutOfMemory.kind, message=str(e).splitlines()[0])
            return OutOfMemory.exit_code
        events.emit("error", kind="internal", message=f"{type(e).__name__}: {e}")
        return 1
    finally:
        stop.uninstall()
