#!/usr/bin/env python3
"""Collapse curves: target variance, prediction variance, effective rank and codebook perplexity
against updates, for the SSL models of the quality benchmark's runs (bench/methods.py's table;
mean over seeds, min-max band).

    python bench/collapse_curves.py --work_dir /tmp/trinet_compare --seeds 0 1 2
    python bench/collapse_curves.py --corpus large --output bench/results/collapse_curves_large

Reads the train.log of each selected model's pretraining in each seed (the values trinet_train's
reporter logs every --log_interval batches, means over those batches; the quality benchmark's
work-dir layout, quality_cells.Layout, of --corpus) and writes <output>.{png,md,json} (default
bench/results/collapse_curves). A model's curves are what its log reports: a method whose
objective has no target spread (DinoSR's codebook heads) or no codebook (data2vec) has no curve
for it; the markdown lists which statistics each model's log has.
"""

import argparse
import json
import math
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import COMPARED, MODEL_NAMES, MODELS, SSL_MODELS, model, monitored_tap  # noqa: E402
from quality_cells import Layout  # noqa: E402
from train_logs import interval_stats, logged_stats  # noqa: E402

# The panels: each one's title and the log keys that give it, the first one a log has. The spreads
# and the rank are the monitored objective's (model_conf.monitor, logged without a suffix; each
# objective's own as <stat>_<objective>); the codebook perplexity is a target source's: DinoSR's
# online codebooks log codebook_ppl (per codebook, of the codewords the masked frames picked),
# data2vec-aqc's Gumbel quantiser code_ppl (of its hard picks on the clean view, G x V entries).
PANELS = {
    "target_var": ("target spread (target_var)", ("target_var",)),
    "pred_var": ("prediction spread (pred_var)", ("pred_var",)),
    "eff_rank": ("effective rank of the monitored tap (eff_rank)", ("eff_rank",)),
    "codebook_ppl": ("codebook perplexity (online codebooks: codebook_ppl, quantiser: code_ppl)",
                     ("codebook_ppl", "code_ppl")),
}
STATS = tuple(PANELS)
# One colour per SSL model, in the table's order (more than the table has, so that a new model
# gets a colour of its own).
PALETTE = ("tab:red", "tab:blue", "tab:green", "tab:purple", "tab:orange", "tab:brown", "tab:pink", "tab:olive",
           "tab:cyan", "tab:gray", "black", "gold", "navy", "lime")
COLOURS = {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(SSL_MODELS)}
DEFAULT_MODELS = tuple(k for k in COMPARED if k in SSL_MODELS)


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


def panel_keys(logged: Sequence[Sequence[str]]) -> Dict[str, Optional[str]]:
    """{panel: the log key that gives it (None: not logged)} for the logs of one model's seeds: the
    first candidate key every seed's log has."""
    return {panel: next((k for k in keys if all(k in seed for seed in logged)), None)
            for panel, (_, keys) in PANELS.items()}


def load_curves(layout: Layout, seeds: Sequence[int],
                models: Sequence[str] = DEFAULT_MODELS) -> Dict[str, Dict[str, Dict[str, List[float]]]]:
    """{model: {panel: mean_band plus "stat", the log key}} for every SSL model of ``models`` with
    a train.log in every seed; a panel the model's logs do not report is left out."""
    curves = {}
    for key in models:
        if model(key).method is None:
            continue
        logs = [layout.ssl_dir(s, key) / "train.log" for s in seeds]
        if not all(p.exists() for p in logs):
            continue
        keys = {panel: stat for panel, stat in panel_keys([logged_stats(p) for p in logs]).items() if stat}
        runs = [interval_stats(p, tuple(keys.values())) for p in logs]
        curves[key] = {panel: dict(stat=stat, **mean_band(runs, stat)) for panel, stat in keys.items()}
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

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.4), dpi=90)
    for ax, (panel, (panel_title, _)) in zip(axes.flat, PANELS.items()):
        for key, by_panel in curves.items():
            if panel not in by_panel:
                continue
            c = by_panel[panel]
            ax.plot(c["update"], c["mean"], color=COLOURS[key], lw=1.4, label=MODEL_NAMES[key])
            if len(seeds) > 1:
                ax.fill_between(c["update"], c["min"], c["max"], color=COLOURS[key], alpha=0.2, lw=0)
        if not any(panel in by_panel for by_panel in curves.values()):
            ax.text(0.5, 0.5, "no model of this run logs it", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("optimizer updates")
        ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=COLOURS[key], lw=2, label=MODEL_NAMES[key]) for key in curves]
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), fontsize=8, frameon=False)
    # Wrapped between the methods, not inside "d2v_aqc: block N-1" (no-break spaces there).
    text = title(curves, seeds).replace(": ", ":\u00a0").replace("block ", "block\u00a0")
    fig.suptitle("\n".join(textwrap.wrap(text, 150)), fontsize=10)
    rows = math.ceil(len(handles) / 4)
    fig.tight_layout(rect=(0, 0.03 + 0.025 * rows, 1, 0.95))
    fig.savefig(output, dpi=90)
    plt.close(fig)


def _value(by_seed_mean: float, low: float, high: float, seeds: Sequence[int]) -> str:
    return f"{by_seed_mean:.3f} ({low:.3f}-{high:.3f})" if len(seeds) > 1 else f"{by_seed_mean:.3f}"


def logged_lines(curves) -> List[str]:
    """A table of the log key each model's pretraining reports for each panel ("-": none)."""
    lines = ["| model | method | " + " | ".join(STATS) + " |", "|---|---|" + "---|" * len(STATS)]
    for key, by_panel in curves.items():
        cells = [f"`{by_panel[p]['stat']}`" if p in by_panel else "-" for p in STATS]
        lines.append(f"| {MODEL_NAMES[key]} | {model(key).method} | " + " | ".join(cells) + " |")
    return lines


def summary_lines(curves, seeds: Sequence[int]) -> List[str]:
    """A table of the first, lowest and last value of each logged statistic per model (mean over
    seeds, with the seeds' min-max)."""
    lines = ["| model | stat | first update | first | lowest mean | last update | last |",
             "|---|---|---|---|---|---|---|"]
    for key, by_panel in curves.items():
        for panel in STATS:
            if panel not in by_panel or not by_panel[panel]["update"]:
                continue
            c = by_panel[panel]
            finite = [v for v in c["mean"] if not math.isnan(v)]
            lowest = f"{min(finite):.3f}" if finite else "nan"
            lines.append(f"| {MODEL_NAMES[key]} | {c['stat']} | {c['update'][0]} | "
                         f"{_value(c['mean'][0], c['min'][0], c['max'][0], seeds)} | {lowest} | {c['update'][-1]} | "
                         f"{_value(c['mean'][-1], c['min'][-1], c['max'][-1], seeds)} |")
    return lines


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_compare"), help="quality.py's work dir")
    parser.add_argument("--corpus", default="main", help="the quality benchmark's corpus (main or large)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(DEFAULT_MODELS), metavar="MODEL",
                        help="models of bench/methods.py's table (those without pretraining have no curves)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results" / "collapse_curves",
                        help="path without suffix")
    args = parser.parse_args(argv)
    curves = load_curves(Layout(args.work_dir, args.corpus), args.seeds, args.models)
    if not curves:
        print(f"no pretraining logs of {args.models} for seeds {args.seeds} under {args.work_dir} ({args.corpus} "
              "corpus): run bench/quality.py first", file=sys.stderr)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    plot(curves, args.output.with_suffix(".png"), args.seeds)
    command = "python bench/collapse_curves.py " + " ".join(argv if argv is not None else sys.argv[1:])
    missing = [k for k in args.models if model(k).method is not None and k not in curves]
    lines = [f"Command: `{command}`", "", f"Corpus: {args.corpus}. {title(curves, args.seeds)}.", "",
             "Statistics each model's training log reports (the log key of each panel; - : not logged):", ""]
    lines += logged_lines(curves)
    lines += ["", "First, lowest and last value of each (mean over seeds, (min-max) over seeds):", ""]
    lines += summary_lines(curves, args.seeds)
    if missing:
        lines += ["", f"No train.log in every seed: {', '.join(MODEL_NAMES[k] for k in missing)}."]
    text = "\n".join(lines) + "\n"
    args.output.with_suffix(".md").write_text(text)
    payload = dict(command=command, corpus=args.corpus, seeds=args.seeds, models=list(curves),
                   logged={k: {p: c["stat"] for p, c in v.items()} for k, v in curves.items()}, curves=curves)
    args.output.with_suffix(".json").write_text(json.dumps(payload) + "\n")
    print(text)
    print(f"wrote {args.output}.png, .md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
