#!/usr/bin/env python3
"""Training-step cost of ESPnet's HuBERT SSL task and of the benchmarks' pretraining methods
(bench/methods.py: data2vec, TriNet with its frozen teacher online / targets offline, MT4SSL, DinoSR,
data2vec 2.0 and TriNet on its efficient student, those two also at M = 1 and 8 clones,
data2vec-aqc), measured in one process on the same audio batch: step time, audio seconds and
masked-frame predictions per second, and their ratios to data2vec's. data2vec-aqc's per-batch
k-means is timed inside its step (``k-means`` column) and its augmented copy, made by the data
loader, apart (CPU ms per audio second, below the table).

    python bench/throughput.py --quick            # < 1 min on a CPU
    python bench/throughput.py                    # CPU: small and base-width sizes
    python bench/throughput.py --device cuda --dtype bf16 --sizes base --batch 8 --seconds 15
    python bench/throughput.py --quick --methods data2vec,trinet   # the variants of these configs

Writes bench/results/throughput_<device>[_quick][<tag>].{md,json} and prints the table.
"""

import argparse
import contextlib
import json
import platform
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import count_flops, matmul_rate, peak_memory_mb, summarise, time_interleaved  # noqa: E402
from step_variants import (  # noqa: E402
    HUBERT, SIZES, VARIANTS, augmentation_cost, baseline, build_variant, make_audio, variant_spec, variants,
)

# Step time / the baseline's (the first method without a frozen teacher), by frozen-teacher mode.
TARGETS = {"offline": 1.05, "online": 1.30}
# A visible-only student (data2vec 2.0's view) by its clone count M: the minimum ratio to the
# baseline of audio seconds per second (M = 1: the student pays for the visible frames only) or
# of masked-frame predictions per second (M = 8: one teacher pass per sample, not per clone).
CLONE_TARGETS = {1: ("audio_s_per_s", 1.5), 8: ("masked_per_s", 2.5)}


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny encoder, 2 x 3 s, 2 warm-up + 9 rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast (GPU)")
    parser.add_argument("--sizes", default="small,base4", help=f"comma-separated, from {sorted(SIZES)}")
    parser.add_argument("--methods", default=None,
                        help="comma-separated pretraining methods (conf/pretrain_<method>_tiny.yaml); "
                             "their variants and HuBERT's are timed (default: bench/methods.py's)")
    parser.add_argument("--variants", default=None, help=f"comma-separated (default: {','.join(VARIANTS)})")
    parser.add_argument("--batch", type=int, default=4, help="utterances per step")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds per utterance")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--output_dir", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--tag", default="", help="appended to the result files' name, e.g. _base4 (runs of a "
                        "size each: every variant is built at once, and 13 at the base width fill 24 GB)")
    return parser


def run(args) -> dict:
    if args.quick:
        args.sizes, args.batch, args.seconds, args.warmup, args.repeats = "tiny", 2, 3.0, 2, 9
    if args.variants is None:
        args.variants = ",".join(variants(args.methods.split(",")) if args.methods else VARIANTS)
    names = args.variants.split(",")
    base = baseline(names)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    speech, lengths = make_audio(args.batch, args.seconds)
    autocast = (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16) if args.dtype == "bf16" else contextlib.nullcontext()
    )
    rows = []
    for size_key in args.sizes.split(","):
        size = SIZES[size_key]
        with tempfile.TemporaryDirectory() as tmp:
            built = [build_variant(name, size, speech, lengths, device, Path(tmp)) for name in names]

            def stepper(v):
                def step():
                    with autocast:
                        return v.train_step()
                return step

            steps = {v.name: stepper(v) for v in built}
            kmeans = {v.name: _time_clusters(v.model) for v in built if v.name != HUBERT}
            times = time_interleaved(steps, device, args.warmup, args.repeats)
            for v in built:
                median_s, spread_s = summarise(times[v.name])
                mem = peak_memory_mb(steps[v.name], device)
                flops = count_flops(steps[v.name])
                mode = None if v.name == HUBERT else variant_spec(v.name)[1]
                view = None if v.name == HUBERT else v.model.view
                clones = getattr(view, "clones", None) if getattr(view, "remove_masked", False) else None
                masked = (sum(v.masked_per_step) / len(v.masked_per_step)) if v.masked_per_step else float("nan")
                timed = kmeans.get(v.name)
                kmeans_s = sum(timed) / len(timed) if timed else float("nan")
                rows.append(dict(size=size.name, variant=v.name, frozen_mode=mode, clones=clones, step_s=median_s,
                                 spread_s=spread_s, peak_mem_mb=mem, tflop_per_step=flops / 1e12,
                                 trainable_m=v.trainable_params / 1e6, masked_per_step=masked, kmeans_s=kmeans_s))
                print(f"{size.name:>20} {v.name:>15}: {median_s:.3f} s/step, {mem:.0f} MB, "
                      f"{flops / 1e12:.3f} TFLOP", flush=True)
            del built, steps
            if device.type == "cuda":
                torch.cuda.empty_cache()
    augmentation = {}
    with tempfile.TemporaryDirectory() as tmp:
        for method in dict.fromkeys(variant_spec(n)[0] for n in names if n != HUBERT):
            cost = augmentation_cost(method, speech, lengths, Path(tmp) / method)
            if cost is not None:
                augmentation[method] = cost
    audio_s = args.batch * args.seconds
    peak_rate = matmul_rate(device, torch.bfloat16 if args.dtype == "bf16" else torch.float32) \
        if device.type == "cuda" else float("nan")
    for row in rows:
        ref = next(r for r in rows if r["size"] == row["size"] and r["variant"] == base)
        row[f"vs_{base}"] = row["step_s"] / ref["step_s"]
        row["audio_s_per_s"] = audio_s / row["step_s"]
        row["masked_per_s"] = row["masked_per_step"] / row["step_s"]
        for key in ("audio_s_per_s", "masked_per_s"):
            row[f"{key}_vs_{base}"] = row[key] / (audio_s / ref["step_s"] if key == "audio_s_per_s"
                                                  else ref["masked_per_step"] / ref["step_s"])
        row["mfu"] = row["tflop_per_step"] * 1e12 / row["step_s"] / peak_rate
    return dict(
        rows=rows,
        setup=dict(
            command="python bench/throughput.py " + " ".join(sys.argv[1:]),
            date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            device=torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            baseline=base, dtype=args.dtype, threads=args.threads, batch=args.batch, seconds=args.seconds,
            warmup=args.warmup, repeats=args.repeats, torch=torch.__version__,
            matmul_tflops=peak_rate / 1e12, augmentation_ms_per_audio_s=augmentation,
        ),
    )


def _time_clusters(model) -> list:
    """Wraps each objective's per-batch k-means (data2vec-aqc's ``clusters``) to record its
    seconds per call; the list stays empty for a method without one."""
    import time

    seconds = []
    for objective in model.objectives.values():
        clusters = getattr(objective, "clusters", None)
        if clusters is None:
            continue

        def timed(*args, __clusters=clusters, **kwargs):
            start = time.perf_counter()
            out = __clusters(*args, **kwargs)
            seconds.append(time.perf_counter() - start)
            return out

        objective.clusters = timed
    return seconds


def markdown(result: dict) -> str:
    s = result["setup"]
    base = s["baseline"]
    lines = [
        f"Command: `{s['command']}`",
        "",
        f"{s['date']}; {s['device']}, {s['dtype']}, {s['threads']} threads, torch {s['torch']}; "
        f"batch {s['batch']} x {s['seconds']} s of audio; median of {s['repeats']} steps after {s['warmup']} warm-up "
        "rounds, the variants' steps interleaved. Peak memory: GPU allocator peak above the resting model and "
        "optimizer state; CPU: peak bytes of live tensors created in one step.",
        "",
        f"| size | variant | step (s) | spread (s) | x {base} | target | audio s / s | x {base} | masked frames / s | "
        f"x {base} | peak mem (MB) | TFLOP/step | MFU | trainable (M) | k-means (s/step) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['size']} | {r['variant']} | {r['step_s']:.3f} | {r['spread_s']:.3f} | {r[f'vs_{base}']:.2f} | "
            f"{_verdict(r, base)} | {r['audio_s_per_s']:.1f} | {r[f'audio_s_per_s_vs_{base}']:.2f} | "
            f"{_number(r['masked_per_s'], '.0f')} | {_number(r[f'masked_per_s_vs_{base}'], '.2f')} | "
            f"{r['peak_mem_mb']:.0f} | {r['tflop_per_step']:.3f} | {_percent(r['mfu'])} | {r['trainable_m']:.1f} | "
            f"{_number(r.get('kmeans_s', float('nan')), '.4f')} |"
        )
    for method, cost in (s.get("augmentation_ms_per_audio_s") or {}).items():
        lines += ["", f"{method}'s augmented copy, made by the data loader (not in the step times): {cost:.2f} ms of "
                      "one CPU core per second of audio (white noise, an impulse response and a background noise at "
                      "the config's probabilities)."]
    if s["matmul_tflops"] == s["matmul_tflops"]:
        lines += ["", f"MFU = counted model FLOPs per second / measured {s['dtype']} matmul rate "
                      f"({s['matmul_tflops']:.0f} TFLOP/s)."]
    return "\n".join(lines) + "\n"


def _verdict(row: dict, base: str) -> str:
    """The row's target and whether it was met ("" if it has none)."""
    if row.get("clones") is not None:
        # A visible-only student: its clone count's target; the frozen-teacher step targets compare
        # TriNet's step with data2vec's on the same student, not this one's.
        if row["clones"] not in CLONE_TARGETS:
            return ""
        key, minimum = CLONE_TARGETS[row["clones"]]
        ratio = row[f"{key}_vs_{base}"]
        what = "audio s / s" if key == "audio_s_per_s" else "masked / s"
        return f"{what} >= {minimum}: " + ("met" if ratio >= minimum else f"MISSED by {minimum - ratio:.2f}")
    target = TARGETS.get(row["frozen_mode"])
    if target is None:
        return ""
    return f"<= {target}: " + ("met" if row[f"vs_{base}"] <= target else "MISSED")


def _number(value: float, spec: str) -> str:
    return "-" if value != value else format(value, spec)


def _percent(value: float) -> str:
    return "-" if value != value else f"{100 * value:.1f} %"


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    result = run(args)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    stem = f"throughput_{torch.device(args.device).type}" + ("_quick" if args.quick else "") + args.tag
    (args.output_dir / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    (args.output_dir / f"{stem}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
