#!/usr/bin/env python3
"""Records the training step's golden values with the code of the commit it is run at.

For data2vec and TriNet (projectors ctc, random, regression; frozen teacher online and
offline) on a tiny conformer: the initial parameters, then for two training steps (one
AdamW update and one EMA step between them) the loss, every logged statistic and every
parameter's gradient. ``test_golden_step.py`` loads the initial parameters into the model
the current code builds and checks that it reproduces the rest.

Usage (from the repository root, one thread so that the sums run in one order):
    OMP_NUM_THREADS=1 PYTHONPATH=. tools/venv/bin/python test/espnet_trinet/models/golden/record_golden.py
"""

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))  # test/, for trinet_testing

from trinet_testing import MINI_CONF, build_asr_experiment, namespace_from_config  # noqa: E402

# The tiny student all variants share (the mini_synth configs with smaller widths).
FRONTEND = dict(n_fft=512, win_length=400, hop_length=160, n_mels=20)
ENCODER = dict(output_size=16, attention_heads=2, linear_units=32, num_blocks=3, cnn_module_kernel=3)
TOP_K = 2
LENGTHS = (20000, 16000, 12000)  # samples; 1.25, 1.0 and 0.75 s
ADAMW = dict(lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
VARIANTS = ["data2vec"] + [f"trinet_{p}_{m}" for p in ("ctc", "random", "regression") for m in ("online", "offline")]


def make_batch():
    """(3, 20000) chirps with noise, zero-padded, and their (3,) lengths."""
    g = torch.Generator().manual_seed(0)
    t = torch.arange(max(LENGTHS)) / 16000
    speech = torch.zeros(len(LENGTHS), max(LENGTHS))
    for b, n in enumerate(LENGTHS):
        wave = 0.3 * torch.sin(2 * torch.pi * (120 + 40 * b + 300 * t) * t) + 0.05 * torch.randn(len(t), generator=g)
        speech[b, :n] = wave[:n]
    return speech, torch.tensor(LENGTHS)


def main():
    torch.set_num_threads(1)
    from espnet_trinet.tasks.trinet import TriNetTask

    tmp = Path(tempfile.mkdtemp())
    teacher = build_asr_experiment(tmp / "teacher")
    speech, lengths = make_batch()
    arrays, record = {}, {}
    for variant in VARIANTS:
        method = "data2vec" if variant == "data2vec" else "trinet"
        args = namespace_from_config(MINI_CONF / f"pretrain_{method}_tiny.yaml", normalize="utterance_mvn",
                                     normalize_conf={})
        args.frontend_conf = {**args.frontend_conf, **FRONTEND}
        args.encoder_conf = {**args.encoder_conf, **ENCODER}
        args.model_conf = {**args.model_conf, "target_top_k": TOP_K}
        batch = dict(speech=speech, speech_lengths=lengths)
        if method == "trinet":
            projector, mode = variant.split("_")[1:]
            args.frozen_teacher = "online"
            args.frozen_teacher_conf = dict(asr_model_file=str(teacher), projector=projector)
            if mode == "offline":
                online = TriNetTask.build_model(args)
                with torch.no_grad():
                    targets, target_lengths = online.frozen_targets(speech, lengths)
                # As the data loader delivers a dump: every array as float.
                batch.update(frozen_targets=targets.float(), frozen_targets_lengths=target_lengths)
                args.frozen_teacher = "offline"
                args.frozen_teacher_conf = dict(projector=projector, output_dim=int(online.frozen_targets.output_dim))
        torch.manual_seed(0)
        model = TriNetTask.build_model(args)
        model.train()
        init = {}
        for name, value in model.state_dict().items():
            # Stored once by content: the EMA teacher starts as a copy of the blocks, and
            # every variant builds the same encoder first.
            key = "init/" + hashlib.sha1(value.numpy().tobytes() + str(value.dtype).encode()).hexdigest()[:16]
            arrays[key] = value.numpy().copy()  # a copy: the parameters change with the updates below
            init[name] = key
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], **ADAMW)
        steps = []
        for step in (1, 2):
            torch.manual_seed(step)
            optimizer.zero_grad()
            loss, stats, weight = model(**batch)
            loss.backward()
            for name, p in model.named_parameters():
                if p.grad is not None:
                    arrays[f"{variant}/step{step}/grad/{name}"] = p.grad.numpy().copy()
            steps.append(dict(loss=float(loss), weight=float(weight),
                              stats={k: float(v) for k, v in stats.items()}))
            optimizer.step()
            model.on_optimizer_step()
            model.on_update_boundary()
        record[variant] = dict(
            init=init,
            steps=steps,
            frozen_teacher=args.frozen_teacher,
            frozen_teacher_conf={k: v for k, v in args.frozen_teacher_conf.items() if k != "asr_model_file"}
            if method == "trinet" else None,
        )
        print(variant, [s["loss"] for s in steps])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    meta = dict(commit=commit, torch=torch.__version__, threads=1, frontend_conf=FRONTEND, encoder_conf=ENCODER,
                target_top_k=TOP_K, lengths=LENGTHS, adamw=dict(ADAMW, betas=list(ADAMW["betas"])),
                seeds="init: torch.manual_seed(0) before build_model; step k: torch.manual_seed(k) before forward",
                variants=record)
    np.savez_compressed(HERE / "ssl_step_golden.npz", **arrays)
    (HERE / "ssl_step_golden.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
