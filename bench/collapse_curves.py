#!/usr/bin/env python3
"""Collapse curves: target variance, prediction variance and effective rank against updates,
for the SSL models of the quality benchmark's runs (bench/methods.py's table: today data2vec and
the TriNets; mean over seeds, min-max band).

    python bench/collapse_curves.py --work_dir /tmp/trinet_quality --seeds 0 1

Reads exp/*/ssl_*/train.log of each seed (the values trinet_train's reporter logs every
--log_interval batches, means over those batches) and writes
bench/results/collapse_curves.{png,md,json}.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import model, monitored_tap  # noqa: E402
from quality_cells import MODEL_NAMES, SSL_MODELS, Layout  # noqa: E402
from train_logs import interval_stats  # noqa: E402

# The SSL model's logged statistics of its monitored objective (model_conf.monitor, TriNet's and
# data2vec's "struc"); per-objective ones are logged as <stat>_<objective>.
STATS = {"target_var": "target spread (target_var)", "pred_var": "prediction spread (pred_var)",
         "eff_rank": "effective rank of the struc tap (eff_rank)"}
# One colour per SSL model, in the table's order.
PALETTE = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive",
           "tab:cyan", "tab:gray")
COLOURS = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(SSL_MODELS)}


def mean_band(runs: Sequence[List[Dict[str, float]]], key: str) -> Dict[str, List[float]]:
    """Mean, min and max of ``key`` over runs, at the updates every run logged.

    Args:
        runs: one list of records (``update`` and ``key``) per seed.
    Returns:
        {"update": [...], "mean": [...], "min": [...], "max": [...]} in update order.
    """
    by_run = [{r["update"]: r[key] for r in records} for records in runs]
    common = sorted(set.intersection(*(set(d) for d in by_run))) if by_run else []
    out: Dict[str, List[float]] = {"update": common, "mean": [], "min": [], "max": []}
    for u in common:
        values = [d[u] for d in by_run]
        out["mean"].append(sum(values) / len(values))
        out["min"].append(min(values))
        out["max"].append(max(values))
    return out


def load_curves(layout: Layout, seeds: Sequence[int]) -> Dict[str, Dict[str, Dict[str, List[float]]]]:
    """{model: {stat: mean_band}} for every SSL model with a train.log in every seed."""
    curves = {}
    for key in SSL_MODELS:
        logs = [layout.ssl_dir(s, key) / "train.log" for s in seeds]
        if not all(p.exists() for p in logs):
            continue
        runs = [interval_stats(p, tuple(STATS)) for p in logs]
        curves[key] = {stat: mean_band(runs, stat) for stat in STATS}
    return curves


def title(curves, seeds: Sequence[int]) -> str:
    """The figure's title: what is plotted, at which tap of each method (its monitored objective's)."""
    band = f"mean of seeds {', '.join(map(str, seeds))}, band = min-max" if len(seeds) > 1 else f"seed {seeds[0]}"
    taps = {}
    for key in curves:
        taps.setdefault(model(key).method, monitored_tap(model(key).method))
    tap_text = ", ".join(f"{method}: {tap.replace('block:', 'block ')}" for method, tap in taps.items())
    return f"Pretraining statistics on training batches, at each model's struc tap ({tap_text}); {band}"


def plot(curves, output: Path, seeds: Sequence[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(STATS), figsize=(13, 3.6), dpi=90)
    for ax, (stat, title) in zip(axes, STATS.items()):
        for key, by_stat in curves.items():
            c = by_stat[stat]
            ax.plot(c["update"], c["mean"], color=COLOURS[key], lw=1.4, label=MODEL_NAMES[key])
            if len(seeds) > 1:
                ax.fill_between(c["update"], c["min"], c["max"], color=COLOURS[key], alpha=0.2, lw=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimizer updates")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title(curves, seeds), fontsize=10)
    fig.tight_layout()
    fig.savefig(output, dpi=90)
    plt.close(fig)


def summary_lines(curves, seeds: Sequence[int]) -> List[str]:
    """A table of the first, lowest and last mean value of each statistic per model."""
    lines = ["| model | stat | first | min | last | last min-max over seeds |", "|---|---|---|---|---|---|"]
    for key, by_stat in curves.items():
        for stat in STATS:
            c = by_stat[stat]
            lines.append(f"| {MODEL_NAMES[key]} | {stat} | {c['mean'][0]:.3f} | {min(c['mean']):.3f} | "
                         f"{c['mean'][-1]:.3f} | {c['min'][-1]:.3f}-{c['max'][-1]:.3f} |")
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_quality"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "collapse_curves",
                        help="path without suffix")
    args = parser.parse_args(argv)
    curves = load_curves(Layout(args.work_dir), args.seeds)
    if not curves:
        print(f"no pretraining logs for seeds {args.seeds} under {args.work_dir}: run bench/quality.py first",
              file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    plot(curves, args.output.with_suffix(".png"), args.seeds)
    command = "python bench/collapse_curves.py " + " ".join(argv if argv is not None else sys.argv[1:])
    text = "\n".join([f"Command: `{command}`", ""] + summary_lines(curves, args.seeds)) + "\n"
    args.output.with_suffix(".md").write_text(text)
    payload = dict(command=command, seeds=args.seeds, curves=curves)
    args.output.with_suffix(".json").write_text(json.dumps(payload) + "\n")
    print(text)
    print(f"wrote {args.output}.png, .md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
