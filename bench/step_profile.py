#!/usr/bin/env python3
"""Where a training step's time goes, by part: features, the teachers' passes, the student's
blocks, the objectives' heads (data2vec 2.0's decoder), backward, the optimizer (with the EMA step).

    python bench/step_profile.py --size tiny --variants data2vec,data2vec2,trinet_offline,trinet2_offline
    python bench/step_profile.py --size small --batch 4 --seconds 8 --variants data2vec,data2vec2_m1,data2vec2_m8

Each variant is built as the throughput benchmark builds it (bench/step_variants.py) and timed with
wall clocks around its parts (CPU: no asynchronous work to wait for), median of ``--repeats`` steps
after ``--warmup``. Writes bench/results/step_profile_<size>.md and prints it.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from step_variants import SIZES, build_variant, make_audio  # noqa: E402

PARTS = ("features", "teachers", "student blocks", "heads", "rest of forward", "backward", "optimizer + EMA")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="tiny", choices=sorted(SIZES))
    parser.add_argument("--variants", default="data2vec,data2vec2,trinet_offline,trinet2_offline")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--output_dir", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser


class PartClock:
    """Exclusive wall time per part of one step, through forward pre/post hooks: a part that runs
    inside another (the student's subsampling, computed again inside a teacher) is its own."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self._stack, self._since = [], 0.0

    def watch(self, module: torch.nn.Module, part: str) -> None:
        module.register_forward_pre_hook(lambda *_: self._switch(part))
        module.register_forward_hook(lambda *_: self._switch(None))

    def _switch(self, part) -> None:
        now = time.perf_counter()
        if self._stack:
            self.seconds[self._stack[-1]] += now - self._since
        if part is None:
            self._stack.pop()
        else:
            self._stack.append(part)
        self._since = now


def profile(variant, repeats: int, warmup: int) -> dict:
    model = variant.model
    clock = PartClock()
    for module in (model.frontend, model.normalize, model.encoder.embed):
        if module is not None:
            clock.watch(module, "features")
    for source in model.targets.values():
        clock.watch(source, "teachers")
    for block in model.encoder.encoders:
        clock.watch(block, "student blocks")
    for objective in model.objectives.values():
        clock.watch(objective, "heads")
    rows = []
    for i in range(warmup + repeats):
        clock.seconds.clear()
        variant.optimizer.zero_grad(set_to_none=True)
        start = time.perf_counter()
        loss, _, _ = model(**variant.batch)
        forward = time.perf_counter()
        loss.backward()
        backward = time.perf_counter()
        variant.optimizer.step()
        done = time.perf_counter()
        if i < warmup:
            continue
        # "features": the frontend and the student's subsampling (also when a teacher reads it again);
        # a whole-encoder EMA teacher's own subsampling is inside it, in "teachers".
        parts = dict(clock.seconds)
        parts["rest of forward"] = (forward - start) - sum(parts.values())
        parts.update({"backward": backward - forward, "optimizer + EMA": done - backward, "step": done - start})
        rows.append(parts)
    return {part: statistics.median(r.get(part, 0.0) for r in rows) for part in (*PARTS, "step")}


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    speech, lengths = make_audio(args.batch, args.seconds)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants.split(","):
            variant = build_variant(name, SIZES[args.size], speech, lengths, torch.device("cpu"), Path(tmp))
            results[name] = profile(variant, args.repeats, args.warmup)
            print(name, {k: round(v, 4) for k, v in results[name].items()}, flush=True)
            del variant
    lines = [f"Command: `python bench/step_profile.py {' '.join(argv if argv is not None else sys.argv[1:])}`", "",
             f"{SIZES[args.size].name}, batch {args.batch} x {args.seconds} s, {args.threads} threads, median of "
             f"{args.repeats} steps after {args.warmup}; milliseconds per step (share of the step)", "",
             "| variant | " + " | ".join(PARTS) + " | step |", "|---" * (len(PARTS) + 2) + "|"]
    for name, parts in results.items():
        cells = [f"{1000 * parts[p]:.0f} ({100 * parts[p] / parts['step']:.0f} %)" for p in PARTS]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {1000 * parts['step']:.0f} |")
    text = "\n".join(lines) + "\n"
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"step_profile_{args.size}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
