"""Parameter-efficient fine-tuning: LoRA adapters through PEFT, and what a run costs.

With `adapter: {type: lora, ...}` in the config the loaded model is wrapped by PEFT: every target
linear layer W gets a trainable low-rank update (alpha / r)·B·A next to its frozen weight, and the
classification head (a new, randomly initialised layer) trains in full (PEFT's `modules_to_save`).
Checkpoints hold the adapter only (PeftModel.save_pretrained); at the end the run saves the
adapter to `outputDir/adapter/` and merges it into the weights (merge_and_unload), so the
Hugging Face folder, model.onnx and the parity check are the plain merged model, as without one.

The cost figures (trainable and total parameters, peak memory) go into the final metrics so a
benchmark can put them beside the scores.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import torch

from .config import TrainConfig
from .errors import ConfigError

ADAPTER_DIR = "adapter"  # under outputDir: adapter_config.json + adapter_model.safetensors


def _peft():
    # Imported on use: a run without an adapter does not pay PEFT's import time.
    import peft

    return peft


def wrap(model: torch.nn.Module, cfg: TrainConfig, resume: Path | None = None) -> torch.nn.Module:
    """The model with a LoRA adapter (trainable) over frozen weights, the head trainable in full.
    On resume, the adapter and head come from the checkpoint folder (which holds only those)."""
    peft = _peft()
    a = cfg.adapter
    if resume is not None:
        return peft.PeftModel.from_pretrained(model, str(resume), is_trainable=True)
    lora = peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS,  # keeps the head trainable and saved (modules_to_save)
        r=a.r,
        lora_alpha=a.alpha,
        lora_dropout=a.dropout,
        target_modules=a.target_modules or ["query", "value"],
        bias="none",
    )
    try:
        return peft.get_peft_model(model, lora)
    except ValueError as e:  # a target module the model does not have
        raise ConfigError("adapter.targetModules", f"adapter.targetModules: {e}") from None


def parameter_counts(model: torch.nn.Module) -> dict:
    """Trainable and total parameters (a PEFT model's total includes the adapter and the head's copy)."""
    return {
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total_parameters": sum(p.numel() for p in model.parameters()),
    }


def save_adapter(model: torch.nn.Module, out: Path) -> Path:
    """`outputDir/adapter/`: what `PeftModel.from_pretrained(base, dir)` loads over the base model."""
    path = out / ADAPTER_DIR
    model.save_pretrained(str(path), safe_serialization=True)
    return path


def merge(model: torch.nn.Module, probe: dict[str, torch.Tensor] | None = None) -> tuple[torch.nn.Module, dict]:
    """The plain model with the adapter folded into its weights, and (given a probe batch) the
    largest logit difference between the adapter model and the merged one."""
    model.eval()
    before = None
    if probe is not None:
        with torch.no_grad():
            before = model(input_ids=probe["input_ids"], attention_mask=probe["attention_mask"]).logits
    merged = model.merge_and_unload()
    figures = {}
    if before is not None:
        with torch.no_grad():
            after = merged(input_ids=probe["input_ids"], attention_mask=probe["attention_mask"]).logits
        figures["merge_max_abs_diff"] = float((after - before).abs().max())
    return merged, figures


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory(device: torch.device) -> dict:
    """Peak memory of the run: on CUDA the most bytes of tensors allocated at once on the device
    (max_memory_allocated); on CPU the process's peak resident set size (everything: Python,
    torch, the model, data), which the kernel records."""
    if device.type == "cuda":
        return {"peak_memory_bytes": int(torch.cuda.max_memory_allocated(device)), "peak_memory_kind": "cuda-allocated"}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return {"peak_memory_bytes": int(rss if sys.platform == "darwin" else rss * 1024), "peak_memory_kind": "rss"}
