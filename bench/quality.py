#!/usr/bin/env python3
"""Every method side by side: the models of bench/methods.py's table (no pretraining, data2vec,
MT4SSL, DinoSR, data2vec 2.0, data2vec-aqc, TriNet with the ctc and random projectors and with
the reference code's loss weighting, TriNet on data2vec 2.0's student) with the same CTC
fine-tuning and several seeds, at an equal pretraining budget (updates and audio per update) and
at equal pretraining wall-clock time, on two unlabelled-set sizes (the main job's corpus, 4x the
labelled subset, and 12x); CER/WER on the embedded corpus's test set (greedy and with the
recipe's LM) and, fine-tuned on real speech, on FSDD connected digits.

    python bench/quality.py                          # everything; resumable (see bench/README.md)
    python bench/quality.py --corpora main --budgets updates --seeds 0   # a part of it
    python bench/quality.py --tiny                   # a check of the plumbing, not a result
    python bench/quality.py --report_only            # rewrite the results from the work dir

Every model is made by the recipe (egs2/mini_synth/trinet1/run.sh stages 1-11) and asr.sh
(stages 10-13 for FSDD); see quality_cells.py for the cells and the work-dir layout. The
equal-wall-clock budget comes from a throughput-benchmark run (--step_times: the step time of
each model's method against data2vec's at the recipe's encoder and batch). Chains of cells run in
parallel (--jobs), each cell is skipped when its done marker exists, and a killed cell resumes
from the recipe's own done markers and checkpoints. Writes bench/results/quality.{md,json} (or
quality_tiny.* with --tiny).
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import COMPARED, method_info, stretched_schedule_args  # noqa: E402
from quality_cells import (  # noqa: E402
    BUDGETS, CORPORA, DECODING_NAMES, DECODINGS, FSDD_DIR, FSDD_TEST, ITERS_PER_EPOCH,
    MODEL_NAMES, MODELS, PRETRAIN_EPOCHS, REPO, SCRATCH, SSL_INIT, SYNTH_TEST, Budget, Cell, Layout, base_cells,
    budget_title, check_models, fsdd_cells, frozen_label, frozen_seed_opts, model, needs_teacher, synth_cells,
    teacher_model, wallclock_iters, with_teacher, WALLCLOCK_TOLERANCE,
)
from quality_stats import SPREAD_RULE, compare, markdown_table, summarise  # noqa: E402
from train_logs import run_counts  # noqa: E402

TINY = dict(local_data_opts="--num_train_speakers 4 --utts_per_speaker 6 --num_labelled 12",
            pretrain_args="--max_epoch 2 --batch_bins 200000", finetune_args="--max_epoch 2 --batch_bins 200000",
            fsdd_finetune_args="--max_epoch 2", fsdd_train_utts=24, iters_per_epoch=3)
TEST_SET_NAMES = {SYNTH_TEST: "embedded corpus, test (unseen voices and sentences)",
                  FSDD_TEST: "FSDD connected digits, test takes (real speech; fine-tuned on FSDD train)"}
# The throughput run whose step times set the equal-wall-clock budget: the recipe's tiny encoder
# (d96 x 4) and ~its batch (8 utterances x 3 s = 24 s of audio; the configs' batch_bins ~25 s).
STEP_TIMES = Path(__file__).resolve().parent / "results" / "throughput_cpu_recipe.json"
STEP_TIMES_COMMAND = ("python bench/throughput.py --sizes tiny --batch 8 --seconds 3 --repeats 30 --threads 1 "
                      "--tag _recipe --variants data2vec,mt4ssl,dinosr,data2vec2,d2v_aqc,trinet_offline,trinet2_offline")


class CellFailed(RuntimeError):
    pass


def run_cell(cell: Cell, layout: Layout) -> dict:
    """Runs a cell unless its done marker exists with the same commands; returns the marker's
    content. A cell whose commands changed (another budget, other options) runs again: the
    recipe's own done markers then keep what was made with the same settings."""
    marker = layout.done(cell.name)
    commands = [shlex.join(cmd) for cmd in cell.commands]
    if marker.exists():
        info = json.loads(marker.read_text())
        if info.get("commands") == commands:
            return dict(info, skipped=True)
        print(f"[{now()}] {layout.corpus} {cell.name}: its commands changed since {marker}: running it again",
              flush=True)
    log = layout.log(cell.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    resumed = log.exists()
    print(f"[{now()}] {layout.corpus} {cell.name}: {'resuming' if resumed else 'start'} (log {log})", flush=True)
    start = time.time()
    if cell.setup is not None:
        cell.setup()
    with open(log, "a") as out:
        for cmd in cell.commands:
            out.write(f"\n[{now()}] $ (cd {cell.cwd} && {shlex.join(cmd)})\n")
            out.flush()
            result = subprocess.run(cmd, cwd=cell.cwd, stdout=out, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                raise CellFailed(f"{cell.name} failed (exit {result.returncode}): see {log}")
    info = dict(cell=f"{layout.corpus}/{cell.name}", wall_s=round(time.time() - start, 1), resumed=resumed,
                finished=now(), code=git_state(), commands=commands)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(info) + "\n")
    print(f"[{now()}] {layout.corpus} {cell.name}: done in {info['wall_s']:.0f} s", flush=True)
    return info


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def git_state() -> str:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    commit = head.stdout.strip() or "unknown"
    return commit + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def throughput_variant(key: str) -> str:
    """The throughput benchmark's variant that times a model's pretraining step: its method, with
    the frozen teacher's targets as the recipe gives them (offline: read from the batch)."""
    method = model(key).method
    if not needs_teacher(key):
        return method
    modes = {v for k, v in method_info(method).items() if k.endswith("_mode") and k.startswith("method_frozen_")}
    if modes != {"offline"}:
        raise ValueError(f"'{key}': the throughput variant of frozen targets {sorted(modes)} is not known")
    return f"{method}_offline"


def step_ratios(path: Path, models: Sequence[str]) -> Tuple[Dict[str, float], dict]:
    """{model: step time / data2vec's} from a throughput JSON (the step plus, where the data
    loader augments the audio, its cost for the batch's audio: num_workers 0, the same process).

    Returns:
        (ratios, the throughput run's setup).
    Raises:
        FileNotFoundError: no such run (the message says how to make it).
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the equal-wall-clock budget needs the throughput "
                                f"benchmark's step times; make them with `{STEP_TIMES_COMMAND}` (run it alone)")
    data = json.loads(path.read_text())
    setup = data["setup"]
    audio_s = setup["batch"] * setup["seconds"]
    loader_ms = setup.get("augmentation_ms_per_audio_s") or {}
    steps = {row["variant"]: row["step_s"] for row in data["rows"]}
    base = steps[setup.get("baseline", "data2vec")]
    ratios = {}
    for key in models:
        if model(key).method is None:
            continue
        variant = throughput_variant(key)
        if variant not in steps:
            raise ValueError(f"{path} has no step time of '{variant}' (model '{key}'); re-run `{STEP_TIMES_COMMAND}`")
        ratios[key] = (steps[variant] + loader_ms.get(variant, 0.0) * audio_s / 1000.0) / base
    return ratios, setup


def collect(layout: Layout, seeds: List[int], models: Sequence[str], budget_name: str) -> Dict:
    """Scores and update counts of every finished model of one corpus and budget. Score keys:
    (test set/decoding, model, unit, seed); FSDD only at the equal budget."""
    scores, counts, updates = {}, {}, {}
    views = [(SYNTH_TEST, d) for d in DECODINGS] + ([(FSDD_TEST, "greedy")] if budget_name == "updates" else [])
    for seed in seeds:
        for key in models:
            for test_set, decoding in views:
                view = f"{test_set}/{decoding}"
                for unit in ("wer", "cer"):
                    path = layout.scores(seed, key, test_set, unit, decoding, budget_name)
                    if path.exists():
                        result = json.loads(path.read_text())
                        scores[(view, key, unit, seed)] = result["error_rate"]
                        counts[(view, unit)] = result["ref"]
            for test_set in (SYNTH_TEST, FSDD_TEST) if budget_name == "updates" else (SYNTH_TEST,):
                asr = layout.asr_dir(seed, key, test_set, budget_name)
                # Finished runs only (the averaged model is written last): a killed run's
                # checkpoint.pth may be half-written.
                if (asr / "valid.cer_ctc.ave.pth").exists():
                    updates[(f"fine-tuning for {test_set}", key, seed)] = run_counts(asr)
            if model(key).method is not None:
                ssl = layout.ssl_dir(seed, key, budget_name)
                if (ssl / SSL_INIT).exists():
                    updates[("pretraining", key, seed)] = run_counts(ssl)
    return dict(scores=scores, ref_tokens=counts, updates=updates)


def budget_check(updates: Dict) -> List[str]:
    """Lines saying how many training batches each run of a stage got (the same for all, or
    which differ), and (pretraining) whether every batch was an update."""
    lines = []
    for stage in sorted({k[0] for k in updates}, reverse=True):
        runs = {(m, s): v for (st, m, s), v in updates.items() if st == stage}
        batches = sorted({v["batches"] for v in runs.values()})
        if len(batches) == 1:
            verdict = "the same for every model and seed"
        else:
            by_model: Dict[int, List[str]] = {}
            for (m, s), v in sorted(runs.items()):
                by_model.setdefault(v["batches"], []).append(f"{MODEL_NAMES[m]} seed {s}")
            verdict = "by run: " + "; ".join(f"{n}: {', '.join(names)}" for n, names in sorted(by_model.items()))
        line = f"- {stage}: {'/'.join(map(str, batches))} training batches per run, {verdict} ({len(runs)} runs)"
        skipped = {k: v["batches"] - v["num_updates"] for k, v in runs.items() if "num_updates" in v}
        if skipped:
            line += "; updates skipped for a non-finite loss: " + (
                "none" if not any(skipped.values()) else
                ", ".join(f"{MODEL_NAMES[m]} seed {s}: {n}" for (m, s), n in sorted(skipped.items()) if n))
        lines.append(line)
    return lines


def comparison_pairs(models: Sequence[str]) -> List[Tuple[str, str]]:
    """(model, reference) pairs the report compares: each pretrained model against no
    pretraining, then each other model against data2vec (the teacher of the TriNets)."""
    teacher = teacher_model(MODELS)
    pairs = []
    if SCRATCH in models:
        pairs += [(key, SCRATCH) for key in models if model(key).method is not None]
    if teacher in models:
        pairs += [(key, teacher) for key in models if model(key).method is not None and key != teacher]
    return pairs


def ranking_lines(summaries, view: str, models: Sequence[str], metric: str = "cer") -> List[str]:
    """The best model of a table and its lead over each other model: beyond the seed spread or not."""
    have = [k for k in models if (view, k, metric) in summaries]
    if not have:
        return []
    best = min(have, key=lambda k: summaries[(view, k, metric)].mean)
    b = summaries[(view, best, metric)]
    if len(b.values) < 2:
        return [f"- lowest {metric.upper()}: {MODEL_NAMES[best]} {b.mean:.1f} (one seed: no spread to compare with)"]
    beaten = [k for k in have if k != best and len(summaries[(view, k, metric)].values) >= 2 and len(b.values) >= 2
              and summaries[(view, k, metric)].low > b.high]
    within = [k for k in have if k != best and k not in beaten]
    line = (f"- best {metric.upper()}: {MODEL_NAMES[best]} {b.mean:.1f} ({b.low:.1f}-{b.high:.1f}); ahead of "
            f"{', '.join(MODEL_NAMES[k] for k in beaten) or 'no model'} beyond the seed spread")
    if within:
        line += f"; within the seed spread of {', '.join(MODEL_NAMES[k] for k in within)}"
    return [line]


def table_section(title: str, summaries, counts, view: str, models, seeds, comparisons) -> List[str]:
    refs = {u: counts.get((view, u)) for u in ("wer", "cer")}
    lines = ["", title, "",
             f"({refs['wer']} reference words, {refs['cer']} reference characters; error rates in %, mean over "
             "seeds with the (min-max) range, then each seed)", ""]
    lines += markdown_table(summaries, view, models, MODEL_NAMES, seeds)
    lines += [""] + ranking_lines(summaries, view, models)
    lines += ["", f"Differences in CER ({SPREAD_RULE}):", ""]
    lines += [f"- {c.sentence(MODEL_NAMES)}" for c in comparisons if c.test_set == view and c.metric == "cer"] or \
        ["- none: fewer than two seeds finished"]
    return lines


def gain_lines(all_summaries, models: Sequence[str], view: str) -> List[str]:
    """Each model's CER gain over no pretraining at the equal budget, by corpus size."""
    corpora = [c for c in CORPORA if (c, "updates") in all_summaries]
    if len(corpora) < 1:
        return []
    head = " | ".join(f"{c}: gain (points)" for c in corpora)
    lines = [f"| model | {head} | change |", "|---|" + "---|" * (len(corpora) + 1)]
    for key in models:
        if model(key).method is None:
            continue
        gains = []
        for c in corpora:
            sums = all_summaries[(c, "updates")]
            a, b = sums.get((view, key, "cer")), sums.get((view, SCRATCH, "cer"))
            gains.append(None if a is None or b is None else b.mean - a.mean)
        if all(g is None for g in gains):
            continue
        change = gains[-1] - gains[0] if len(gains) > 1 and None not in gains else None
        lines.append(f"| {MODEL_NAMES[key]} | " + " | ".join("-" if g is None else f"{g:+.1f}" for g in gains) +
                     f" | {'-' if change is None else f'{change:+.1f}'} |")
    return lines


def report(work_dir: Path, budget: Budget, command: str, cells_info: List[dict], output: Path,
           fsdd: Optional[Path], fsdd_asked: Optional[Path], models: Sequence[str] = COMPARED,
           corpora: Sequence[str] = tuple(CORPORA), budgets: Sequence[str] = BUDGETS,
           ratios: Optional[Dict[str, float]] = None, ratio_setup: Optional[dict] = None) -> str:
    seeds = budget.seeds
    finetune, fsdd_finetune = (f"--seed S {a}".strip() for a in (budget.finetune_args, budget.fsdd_finetune_args))
    taught = with_teacher(models)

    def stretched(key: str) -> List[str]:
        return stretched_schedule_args(model(key).method, budget.schedule_scale)

    lines = [f"Command: `{command}`", "",
             f"- date: {now()}; code: git {git_state()}; python {platform.python_version()}; "
             f"host {platform.machine()}, {os.cpu_count()} CPUs; work dir {work_dir}",
             *[f"- corpus `{c}`: {CORPORA[c].description} (local/data.sh {CORPORA[c].local_data_opts or 'defaults'}"
               f"{' ' + budget.local_data_opts if budget.local_data_opts else ''}); the same labelled subset, dev "
               "and test sentences and voices" for c in corpora],
             f"- pretraining (every SSL model alike): recipe configs + `--seed S --log_interval {budget.log_interval} "
             f"--num_iters_per_epoch N{' ' + budget.pretrain_args if budget.pretrain_args else ''}`"
             f"; equal budget: N = {budget.iters_per_epoch} (x {PRETRAIN_EPOCHS} epochs) for every model"
             + (f"; + `{' '.join(sorted({o for k in taught for o in frozen_seed_opts(k, 'S')}))}` for the models with "
                f"a frozen teacher, whose teacher is the CTC fine-tuned {MODEL_NAMES[teacher_model(MODELS)]} of the "
                "same seed and corpus (recipe stage 8); frozen targets (projector, mode): "
                + "; ".join(f"{MODEL_NAMES[k]}: {frozen_label(k)}" for k in taught) if taught else ""),
             *([f"- schedules stretched x{budget.schedule_scale:g} (`--schedule_scale`): every update-based schedule "
                "of the configs (EMA anneal, teacher freeze, LR warm-up and cosine cycle, per-update decays) ends at "
                "the same fraction of the run: "
                + "; ".join(f"{MODEL_NAMES[k]}: `{' '.join(stretched(k))}`" for k in models
                            if model(k).method is not None)]
               if budget.schedule_scale != 1 else []),
             *[f"- {MODEL_NAMES[k]}: + `{model(k).pretrain_args}`" for k in models if model(k).pretrain_args],
             f"- fine-tuning (every model the same): conf/finetune_ctc_tiny.yaml + `{finetune}` on train_labelled; "
             f"FSDD: the same config + `{fsdd_finetune}` on {budget.fsdd_train_utts or 'all'} random FSDD train "
             "utterances, from the equal-budget encoders; checkpoint valid.cer_ctc.ave",
             f"- decoding: embedded test set greedy CTC and CTC + the recipe's LM (trained once per corpus on its "
             "LM text, stage 5); FSDD greedy",
             f"- seeds: {', '.join(map(str, seeds))} (model init, masks, batch order, random projection)"]
    if "wallclock" in budgets and ratios:
        lines += ["", "Equal wall-clock budget: each model's updates per epoch N = round("
                  f"{budget.iters_per_epoch} / r), r = its step time / data2vec's; r within "
                  f"{WALLCLOCK_TOLERANCE:.2f} of 1 keeps the equal budget (the measurement's resolution) (the throughput benchmark at "
                  f"batch {ratio_setup.get('batch')} x {ratio_setup.get('seconds')} s, {ratio_setup.get('threads')} "
                  f"threads, `{ratio_setup.get('command')}`, {ratio_setup.get('date')}; data2vec-aqc's data-loader "
                  "augmentation added). The frozen teacher's cost (its pretraining, fine-tuning and target dump) is "
                  "not counted: it is the offline cost of the cost table. Update-based schedules (EMA, cosine LR, "
                  "temperature) are the configs', not rescaled.", "",
                  "| model | r | N | updates |", "|---|---|---|---|"]
        for key in models:
            if key in ratios:
                n = budget.wallclock_iters.get(key, budget.iters_per_epoch)
                lines.append(f"| {MODEL_NAMES[key]} | {ratios[key]:.2f} | {n} | {n * PRETRAIN_EPOCHS} |")
    all_summaries = {}
    payload_results = {}
    for corpus in corpora:
        layout = Layout(work_dir, corpus, budget.wallclock_iters)
        for budget_name in budgets:
            data = collect(layout, seeds, models, budget_name)
            summaries = summarise(data["scores"])
            all_summaries[(corpus, budget_name)] = summaries
            comparisons = compare(summaries, comparison_pairs(models))
            lines += ["", f"## Corpus `{corpus}`, {budget_title(budget_name, budget.iters_per_epoch)}", "",
                      "Budget check (training batches = scheduler steps, and the SSL model's own update counter, "
                      "read from each experiment's checkpoint.pth):", ""]
            lines += budget_check(data["updates"]) or ["- no finished runs"]
            for view in sorted({k[0] for k in summaries}, key=lambda v: (v.startswith(FSDD_TEST), v)):
                test_set, decoding = view.split("/")
                lines += table_section(f"### {TEST_SET_NAMES[test_set]}: {DECODING_NAMES[decoding]}", summaries,
                                       data["ref_tokens"], view, models, seeds, comparisons)
            if fsdd is None and budget_name == "updates":
                lines += ["", "FSDD fine-tunings were left out (--no_fsdd)." if fsdd_asked is None else
                          f"FSDD was skipped: no recordings in {fsdd_asked} (--fsdd_dir)."]
            payload_results[f"{corpus}/{budget_name}"] = dict(
                results={f"{v}/{m}/{u}": x.as_dict() for (v, m, u), x in sorted(summaries.items())},
                comparisons=[c.as_dict() for c in comparisons],
                runs={f"{st}/{m}/seed{s}": v for (st, m, s), v in sorted(data["updates"].items())},
                ref_tokens={f"{t}/{u}": v for (t, u), v in data["ref_tokens"].items()})
    for view in (f"{SYNTH_TEST}/greedy", f"{SYNTH_TEST}/lm", f"{FSDD_TEST}/greedy"):
        gains = gain_lines(all_summaries, models, view)
        if gains and len(gains) > 2:
            test_set, decoding = view.split("/")
            lines += ["", f"## What pretraining gains over none, by unlabelled-set size ({TEST_SET_NAMES[test_set]}, "
                      f"{DECODING_NAMES[decoding]}, equal budget; CER points, no pretraining's mean minus the "
                      "model's: positive = better)", ""] + gains
    by_code: Dict[str, List[str]] = {}
    for c in cells_info:
        by_code.setdefault(c.get("code", "not recorded"), []).append(c["cell"])
    if len(by_code) > 1:
        lines += ["", "The cells ran at different code versions: " + "; ".join(
            f"git {code}: {', '.join(cells)}" for code, cells in sorted(by_code.items()))]
    elif by_code:  # the report's own code line above may be newer than the cells'
        lines += ["", f"Every cell ran at git {next(iter(by_code))}."]
    if cells_info:
        total = sum(c["wall_s"] for c in cells_info)
        lines += ["", f"Wall time per cell (s; a resumed cell counts only its last part; {total / 3600:.1f} h of "
                  "cell time in all): " + ", ".join(f"{c['cell']} {c['wall_s']:.0f}"
                                                                        for c in cells_info)]
    text = "\n".join(lines) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".md").write_text(text)
    payload = dict(command=command, code=git_state(), date=now(), budget=vars(budget), models=list(models),
                   corpora=list(corpora), budgets=list(budgets), step_ratios=ratios, spread_rule=SPREAD_RULE,
                   by_corpus_and_budget=payload_results, cells=cells_info)
    output.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    return text


def run_chains(chains: List[Tuple[Layout, List[Cell]]], jobs: int, cells_info: List[dict],
               failures: List[str]) -> None:
    """Chains of cells (each with the layout of its corpus), ``jobs`` at once; a failure stops
    its chain only (later cells need earlier ones)."""
    def run(layout: Layout, cells: List[Cell]) -> List[dict]:
        return [run_cell(cell, layout) for cell in cells]

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(run, layout, cells) for layout, cells in chains if cells]:
            try:
                cells_info += future.result()
            except CellFailed as err:
                failures.append(str(err))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_compare"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=list(CORPORA))
    parser.add_argument("--budgets", nargs="+", default=list(BUDGETS), choices=list(BUDGETS))
    parser.add_argument("--jobs", type=int, default=2, help="chains run at once (one CPU core each)")
    parser.add_argument("--tiny", action="store_true", help="tiny corpus and 2-epoch budgets (a check, not a result)")
    parser.add_argument("--local_data_opts", default=None, help="extra local/data.sh options (the corpus)")
    parser.add_argument("--pretrain_args", default=None, help="extra trinet_train options, every SSL model")
    parser.add_argument("--finetune_args", default=None, help="extra asr_train options, synthetic fine-tuning")
    parser.add_argument("--fsdd_finetune_args", default=None, help="extra asr_train options, FSDD fine-tuning")
    parser.add_argument("--fsdd_train_utts", type=int, default=None,
                        help="random FSDD train utterances to fine-tune on (default 170, a quarter; 0 = all)")
    parser.add_argument("--models", nargs="+", default=list(COMPARED), choices=list(MODELS), metavar="MODEL",
                        help=f"models of bench/methods.py's table (default: {' '.join(COMPARED)})")
    parser.add_argument("--no_fsdd", action="store_true", help="leave the FSDD fine-tunings out")
    parser.add_argument("--step_times", type=Path, default=STEP_TIMES,
                        help="throughput JSON that sets the equal-wall-clock budget")
    parser.add_argument("--log_interval", type=int, default=5)
    parser.add_argument("--iters_per_epoch", type=int, default=None,
                        help=f"pretraining updates per epoch at the equal budget (default {ITERS_PER_EPOCH}, the main "
                             f"corpus's own epoch; x {PRETRAIN_EPOCHS} epochs)")
    parser.add_argument("--schedule_scale", type=float, default=1.0,
                        help="stretch every config's update-based schedules by this factor (with --iters_per_epoch "
                             f"S x {ITERS_PER_EPOCH}: a longer run of the same schedule shape)")
    parser.add_argument("--fsdd_dir", type=Path, default=FSDD_DIR)
    parser.add_argument("--report_only", action="store_true", help="do not run; rewrite the results")
    parser.add_argument("--output", type=Path, default=None,
                        help="results path without suffix (default bench/results/quality[_tiny])")
    args = parser.parse_args(argv)
    models = [key for key in MODELS if key in args.models]  # the table's order
    try:
        check_models(models)
    except ValueError as err:
        parser.error(str(err))

    preset = TINY if args.tiny else dict(local_data_opts="", pretrain_args="", finetune_args="",
                                         fsdd_finetune_args="", fsdd_train_utts=170, iters_per_epoch=ITERS_PER_EPOCH)
    values = {k: getattr(args, k, None) if getattr(args, k, None) is not None else v for k, v in preset.items()}
    ratios, ratio_setup = None, None
    if "wallclock" in args.budgets:
        try:
            ratios, ratio_setup = step_ratios(args.step_times, models)
        except (FileNotFoundError, ValueError) as err:
            parser.error(str(err))
        values["wallclock_iters"] = wallclock_iters(ratios, values["iters_per_epoch"])
    budget = Budget(seeds=args.seeds, log_interval=args.log_interval, schedule_scale=args.schedule_scale, **values)
    output = args.output or Path(__file__).resolve().parent / "results" / ("quality_tiny" if args.tiny else "quality")
    command = "python bench/quality.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    fsdd = args.fsdd_dir if (args.fsdd_dir / "recordings").is_dir() and not args.no_fsdd else None
    if fsdd is None and not args.no_fsdd:
        print(f"FSDD recordings not found in {args.fsdd_dir}: the FSDD transfer test is skipped", flush=True)
    # One thread per process: two chains share a 2-core machine.
    os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")

    layouts = {c: Layout(args.work_dir, c, budget.wallclock_iters) for c in args.corpora}
    cells_info: List[dict] = []
    failures: List[str] = []
    if not args.report_only:
        # The data of every corpus, then per phase (equal budget, equal time, FSDD) one chain per
        # (seed, corpus), the first seed's corpora first.
        run_chains([(layouts[c], base_cells(layouts[c], budget, fsdd)) for c in args.corpora], args.jobs,
                   cells_info, failures)
        if failures:
            print("\n".join(failures), file=sys.stderr)
            return 1
        order = [(s, c) for s in budget.seeds for c in args.corpora]
        phases = [lambda c, s, b=b: synth_cells(layouts[c], budget, s, models, b) for b in args.budgets]
        if fsdd is not None:
            phases.append(lambda c, s: fsdd_cells(layouts[c], budget, s, models))
        for phase in phases:
            run_chains([(layouts[c], phase(c, s)) for s, c in order], args.jobs, cells_info, failures)
    else:
        cells_info = [json.loads(p.read_text()) for p in sorted((args.work_dir / "done").glob("*.json"))]
    text = report(args.work_dir, budget, command, cells_info, output, fsdd,
                  None if args.no_fsdd else args.fsdd_dir, models, args.corpora,
                  args.budgets, ratios, ratio_setup)
    print(text)
    print(f"wrote {output}.md and {output}.json")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
