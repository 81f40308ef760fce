"""`daogou tune copy`: LoRA fine-tuning of the bundled LLM on attribute -> copy pairs, on CPU, resumable.

Each example is the copywriter's own prompt (`copy.yaml:prompt_tuned`, the record's tags as facts) in the
model's chat template, followed by `描述：<the reference copy>` and the end-of-turn token; the loss is taken
on the copy only (prompt labels are -100). The frozen base stays in bf16; the LoRA matrices (peft, rank
`rank`, alpha 2·rank, on the attention and MLP projections) train in fp32 with AdamW and a linear decay,
one example per step (no padding). A checkpoint (adapter + optimizer + step + losses) is written every
`save_every` steps into `<out>/checkpoint`, atomically, so a killed run continues where it stopped; run
again with a higher --max-steps to train further on the same data and settings.
The finished adapter goes to `<out>` with `daogou_adapter.json` (see daogou/llm/adapters.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from daogou.evals.copy_data import CopyExample
from daogou.llm.adapters import AdapterInfo, base_model_hash
from daogou.llm.torch_dtype import resolve_dtype
from daogou.settings import Settings
from daogou.tools.copywriter import copy_prompt

__all__ = ["PROMPT_KEY", "TARGET_PREFIX", "TuneConfig", "TuneError", "data_hash", "encode_example",
           "tune_copy_adapter"]

log = logging.getLogger(__name__)

PROMPT_KEY = "prompt_tuned"  # copy.yaml template the adapter is trained (and then used) with
TARGET_PREFIX = "描述："  # the copy is written as the description line parse_copy reads
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
CHECKPOINT = "checkpoint"


class TuneError(RuntimeError):
    """Training cannot start or continue (no usable example, a checkpoint from other settings...)."""


@dataclass(frozen=True)
class TuneConfig:
    """How to train. Defaults fit a 2-core CPU: ~200 short examples, one epoch, rank 8."""

    out: Path  # adapter folder; <out>/checkpoint holds the resumable state
    epochs: float = 1.0  # passes over the examples (fractions allowed)
    max_steps: int | None = None  # stop after this many steps (one example per step)
    lr: float = 2e-4  # AdamW learning rate, decayed linearly to 0
    rank: int = 8  # LoRA rank; alpha = 2 * rank
    max_len: int = 192  # tokens per sequence (prompt + copy); the copy's tail is cut beyond it
    save_every: int = 10  # checkpoint every N steps
    resume: bool = True  # continue from <out>/checkpoint when it exists
    seed: int = 0  # example order and LoRA initialisation
    threads: int = 2  # torch threads
    dtype: str = "auto"  # base weights: bfloat16, float32, or auto (bf16 only with bf16 CPU instructions)
    target_modules: tuple[str, ...] = TARGET_MODULES


def encode_example(tokenizer: Any, ex: CopyExample, max_len: int) -> tuple[list[int], list[int]] | None:
    """(input_ids, labels) of one example: the chat-templated prompt (labels -100) then the copy and end of turn.

    None when the prompt alone leaves fewer than 8 tokens of copy within `max_len`.
    """
    prompt = copy_prompt(ex.to_product(), "简洁", "zh", PROMPT_KEY)
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)
    p_ids = list(tokenizer(str(text), add_special_tokens=False)["input_ids"])
    t_ids = list(tokenizer(TARGET_PREFIX + ex.reference + "<|im_end|>", add_special_tokens=False)["input_ids"])
    room = max_len - len(p_ids)
    if room < 8:
        return None
    t_ids = t_ids[:room]
    return p_ids + t_ids, [-100] * len(p_ids) + t_ids


def data_hash(examples: Sequence[CopyExample]) -> str:
    """sha256 over the examples' content and reference, in order."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.content, ex.reference], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def _save_atomic(folder: Path, write: Any) -> None:
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(folder, old)
    os.replace(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def _plan(n: int, cfg: TuneConfig) -> list[int]:
    """Example index of every step: seeded shuffles of range(n), `epochs` passes, cut at max_steps."""
    rng = random.Random(cfg.seed)
    order: list[int] = []
    total = max(1, round(n * cfg.epochs))
    while len(order) < total:
        epoch = list(range(n))
        rng.shuffle(epoch)
        order += epoch
    order = order[:total]
    return order[:cfg.max_steps] if cfg.max_steps is not None else order


def tune_copy_adapter(examples: Sequence[CopyExample], cfg: TuneConfig, settings: Settings, *,
                      data_name: str = "", progress: bool | None = None) -> AdapterInfo:
    """Train (or resume) a LoRA adapter on `examples`; returns the metadata written with it."""
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from daogou.llm.provision import llm_transformers_dir

    base = settings.llm_path or llm_transformers_dir(settings)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    tok = AutoTokenizer.from_pretrained(base, local_files_only=True)
    encoded = [e for e in (encode_example(tok, ex, cfg.max_len) for ex in examples) if e is not None]
    if not encoded:
        raise TuneError(f"none of the {len(examples)} examples fits in --max-len {cfg.max_len} tokens; raise it")
    steps = _plan(len(encoded), cfg)
    # what a checkpoint must share to be continued; the step count may grow (--max-steps raised: train on)
    fingerprint = {"base_sha256": base_model_hash(base), "data_sha256": data_hash(examples), "rank": cfg.rank,
                   "lr": cfg.lr, "max_len": cfg.max_len, "seed": cfg.seed, "epochs": cfg.epochs,
                   "targets": list(cfg.target_modules)}

    dtype = resolve_dtype(cfg.dtype)  # emulated bf16 is ~66x slower than float32 (torch_dtype.py)
    model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=getattr(torch, dtype))
    model.config.use_cache = False
    lora = LoraConfig(r=cfg.rank, lora_alpha=2 * cfg.rank, lora_dropout=0.0, target_modules=list(cfg.target_modules),
                      task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)  # adapter weights in fp32 (peft autocasts them from a bf16 base)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / len(steps)))

    ckpt = cfg.out / CHECKPOINT
    start, losses, spent = 0, [], 0.0
    if cfg.resume and (ckpt / "state.json").is_file():
        state = json.loads((ckpt / "state.json").read_text())
        if state["fingerprint"] != fingerprint:
            diff = sorted(k for k in fingerprint if state["fingerprint"].get(k) != fingerprint[k])
            raise TuneError(f"the checkpoint in {ckpt} was made with other settings ({', '.join(diff)} differ); "
                            "pass the same options, or --no-resume to start over")
        set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
        opt.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
        sched.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=True))
        start, losses, spent = state["step"], state["losses"], state["train_s"]
        if start > len(steps):
            raise TuneError(f"the checkpoint in {ckpt} is at step {start}, past the {len(steps)} steps asked; raise "
                            "--max-steps or pass --no-resume")
        log.info("resuming from step %d of %d", start, len(steps))
    resumed_from = start

    def save_checkpoint(step: int) -> None:
        def write(folder: Path) -> None:
            model.save_pretrained(folder)
            torch.save(opt.state_dict(), folder / "optimizer.pt")
            torch.save(sched.state_dict(), folder / "scheduler.pt")
            (folder / "state.json").write_text(json.dumps({"fingerprint": fingerprint, "step": step,
                                                           "losses": losses, "train_s": spent}))
        _save_atomic(ckpt, write)

    model.train()
    bar = tqdm(total=len(steps), initial=start, desc="tune copy", unit="step", disable=progress is False)
    t0 = time.perf_counter()
    for step in range(start, len(steps)):
        ids, labels = encoded[steps[step]]
        out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))  # (1, T) -> scalar loss
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(round(out.loss.detach().item(), 4))
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.3f}")
        if (step + 1) % cfg.save_every == 0 or step + 1 == len(steps):
            spent += time.perf_counter() - t0
            t0 = time.perf_counter()
            save_checkpoint(step + 1)
    bar.close()
    spent += time.perf_counter() - t0

    window = max(1, min(10, len(losses) // 2 or 1))
    info = AdapterInfo(base_model=str(base), base_sha256=fingerprint["base_sha256"], data=data_name,
                       data_sha256=fingerprint["data_sha256"], prompt_key=PROMPT_KEY, examples=len(encoded),
                       steps=len(steps), epochs=cfg.epochs, rank=cfg.rank, alpha=2 * cfg.rank, lr=cfg.lr,
                       max_len=cfg.max_len, loss_first=round(sum(losses[:window]) / window, 4),
                       loss_last=round(sum(losses[-window:]) / window, 4), train_s=round(spent, 1),
                       extra={"targets": list(cfg.target_modules), "seed": cfg.seed, "threads": cfg.threads,
                              "dtype": dtype, "resumed_from": resumed_from,
                              "s_per_step": round(spent / max(1, len(losses)), 2)})

    def write_adapter(folder: Path) -> None:
        model.save_pretrained(folder)
        info.write(folder)
        if ckpt.exists():
            shutil.copytree(ckpt, folder / CHECKPOINT)

    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    _save_atomic(cfg.out, write_adapter)
    return info
