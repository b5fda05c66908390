#!/usr/bin/env python3
"""Quality at small scale: the models of bench/methods.py's table (today: no pretraining,
data2vec and TriNet with the ctc, random and regression projectors) with the same pretraining
budget, the same CTC fine-tuning, several seeds; WER/CER on the embedded corpus's test set and,
fine-tuned on real speech, on FSDD connected digits.

    python bench/quality.py                      # seeds 0 1, ~2 h on a 2-core CPU
    python bench/quality.py --seeds 0 1 2        # a re-run adds seed 2, finished cells are skipped
    python bench/quality.py --tiny               # a few minutes: tiny corpus, 2-epoch budgets
    python bench/quality.py --report_only        # rewrite the results from a finished work dir
    python bench/quality.py --models scratch data2vec trinet_ctc   # some of the table's models

Every model is made by the recipe (egs2/mini_synth/trinet1/run.sh stages 1-11) and asr.sh
(stages 10-13 for FSDD); see quality_cells.py for the cells and the work-dir layout. Seed
chains run in parallel (--jobs), each cell is skipped when its done marker exists, and a
killed cell resumes from the recipe's own done markers and checkpoints.
Writes bench/results/quality.{md,json} (or quality_tiny.* with --tiny).
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
from quality_cells import (  # noqa: E402
    FSDD_DIR, FSDD_TEST, MODEL_NAMES, MODELS, REPO, SCRATCH, SYNTH_TEST, Budget, Cell, Layout, base_cells,
    check_models, frozen_label, frozen_seed_opts, model, seed_cells, teacher_model, with_teacher,
)
from quality_stats import SPREAD_RULE, compare, markdown_table, summarise  # noqa: E402
from train_logs import run_counts  # noqa: E402

TINY = dict(local_data_opts="--num_train_speakers 4 --utts_per_speaker 6 --num_labelled 12",
            pretrain_args="--max_epoch 2 --batch_bins 200000", finetune_args="--max_epoch 2 --batch_bins 200000",
            fsdd_finetune_args="--max_epoch 2", fsdd_train_utts=24)
TEST_SET_NAMES = {SYNTH_TEST: "embedded corpus, test (unseen voices and sentences)",
                  FSDD_TEST: "FSDD connected digits, test takes (real speech; fine-tuned on FSDD train)"}


class CellFailed(RuntimeError):
    pass


def run_cell(cell: Cell, layout: Layout) -> dict:
    """Runs a cell unless its done marker exists; returns the marker's content."""
    marker = layout.done(cell.name)
    if marker.exists():
        return dict(json.loads(marker.read_text()), skipped=True)
    log = layout.log(cell.name)
    log.parent.mkdir(parents=True, exist_ok=True)
    resumed = log.exists()
    print(f"[{now()}] {cell.name}: {'resuming' if resumed else 'start'} (log {log})", flush=True)
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
    info = dict(cell=cell.name, wall_s=round(time.time() - start, 1), resumed=resumed, finished=now(),
                code=git_state())
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(info) + "\n")
    print(f"[{now()}] {cell.name}: done in {info['wall_s']:.0f} s", flush=True)
    return info


def run_chain(cells: List[Cell], layout: Layout) -> List[dict]:
    """Cells in order; the first failure stops this chain (later cells need earlier ones)."""
    return [run_cell(cell, layout) for cell in cells]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def git_state() -> str:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    commit = head.stdout.strip() or "unknown"
    return commit + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def collect(layout: Layout, seeds: List[int], models: Sequence[str] = MODELS) -> Dict:
    """Scores and update counts of every finished model."""
    scores, counts, updates = {}, {}, {}
    for seed in seeds:
        for key in models:
            for test_set in (SYNTH_TEST, FSDD_TEST):
                for unit in ("wer", "cer"):
                    path = layout.scores(seed, key, test_set, unit)
                    if path.exists():
                        result = json.loads(path.read_text())
                        scores[(test_set, key, unit, seed)] = result["error_rate"]
                        counts[(test_set, unit)] = result["ref"]
                asr = layout.asr_dir(seed, key, test_set)
                if (asr / "checkpoint.pth").exists():
                    updates[(f"fine-tuning for {test_set}", key, seed)] = run_counts(asr)
            if model(key).method is not None and (layout.ssl_dir(seed, key) / "checkpoint.pth").exists():
                updates[("pretraining", key, seed)] = run_counts(layout.ssl_dir(seed, key))
    return dict(scores=scores, ref_tokens=counts, updates=updates)


def budget_check(updates: Dict) -> List[str]:
    """Lines saying whether every run of a stage got the same number of training batches, and
    (pretraining) whether every batch was an update (none skipped for a non-finite loss)."""
    lines = []
    for stage in sorted({k[0] for k in updates}, reverse=True):
        runs = {(m, s): v for (st, m, s), v in updates.items() if st == stage}
        batches = sorted({v["batches"] for v in runs.values()})
        verdict = "the same for every model and seed" if len(batches) == 1 else "DIFFERENT between runs: " + \
            ", ".join(f"{MODEL_NAMES[m]} seed {s}: {v['batches']}" for (m, s), v in sorted(runs.items()))
        line = f"- {stage}: {'/'.join(map(str, batches))} training batches per run, {verdict} ({len(runs)} runs)"
        skipped = {k: v["batches"] - v["num_updates"] for k, v in runs.items() if "num_updates" in v}
        if skipped:
            line += "; updates skipped for a non-finite loss: " + (
                "none" if not any(skipped.values()) else
                ", ".join(f"{MODEL_NAMES[m]} seed {s}: {n}" for (m, s), n in sorted(skipped.items()) if n))
        lines.append(line)
    return lines


def comparison_pairs(models: Sequence[str]) -> List[Tuple[str, str]]:
    """(model, reference) pairs the report compares: each model with a frozen teacher against
    the model its teacher was fine-tuned from, then each pretrained model against no pretraining."""
    teacher = teacher_model(models)
    pairs = [(key, teacher) for key in with_teacher(models)]
    if SCRATCH in models:
        pairs += [(key, SCRATCH) for key in models if model(key).method is not None]
    return pairs


def pretraining_lines(budget: Budget, models: Sequence[str]) -> List[str]:
    """The report's description of the pretraining budget and of the frozen teachers."""
    pretrain = f"--seed S --log_interval {budget.log_interval} {budget.pretrain_args}".strip()
    ssl = [key for key in models if model(key).method is not None]
    line = (f"- pretraining ({', '.join(MODEL_NAMES[k] for k in ssl) or 'no SSL model'} alike): recipe configs + "
            f"`{pretrain}`")
    taught = with_teacher(models)
    if taught:
        seed_opts = sorted({opt for key in taught for opt in frozen_seed_opts(key, "S")})
        line += (f" (+ `{' '.join(seed_opts)}` for the models with a frozen teacher); the frozen teacher of "
                 f"{', '.join(MODEL_NAMES[k] for k in taught)} is the CTC fine-tuned "
                 f"{MODEL_NAMES[teacher_model(models)]} of the same seed (recipe stage 8); frozen targets (projector, "
                 "mode): " + "; ".join(f"{MODEL_NAMES[k]}: {frozen_label(k)}" for k in taught))
    return [line]


def report(layout: Layout, budget: Budget, command: str, cells_info: List[dict], output: Path,
           fsdd: Optional[Path], fsdd_asked: Path, models: Sequence[str] = MODELS) -> str:
    data = collect(layout, budget.seeds, models)
    summaries = summarise(data["scores"])
    comparisons = compare(summaries, comparison_pairs(models))
    seeds = budget.seeds
    finetune, fsdd_finetune = (f"--seed S {a}".strip() for a in (budget.finetune_args, budget.fsdd_finetune_args))
    lines = [f"Command: `{command}`", "",
             f"- date: {now()}; code: git {git_state()}; python {platform.python_version()}; "
             f"host {platform.machine()}, {os.cpu_count()} CPUs; work dir {layout.work}",
             f"- corpus: embedded mini_synth (local/data.sh {budget.local_data_opts or 'defaults'}), "
             "fixed for all seeds",
             *pretraining_lines(budget, models),
             f"- fine-tuning (every model the same): conf/finetune_ctc_tiny.yaml + `{finetune}`"
             f" on train_labelled; FSDD: the same config + `{fsdd_finetune}` on "
             f"{budget.fsdd_train_utts or 'all'} random FSDD train utterances; greedy CTC decoding, checkpoint "
             "valid.cer_ctc.ave",
             f"- seeds: {', '.join(map(str, seeds))} (model init, masks, batch order, random projection)",
             "", "Budget check (training batches = scheduler steps, and the SSL model's own update counter, read from "
             "each experiment's checkpoint.pth):", ""]
    lines += budget_check(data["updates"]) or ["- no finished runs"]
    for test_set in (SYNTH_TEST, FSDD_TEST):
        if not any(k[0] == test_set for k in summaries):
            if test_set == FSDD_TEST:
                lines += ["", f"FSDD (b) was skipped: no recordings in {fsdd_asked} (--fsdd_dir)." if fsdd is None
                          else "FSDD (b): no finished runs yet."]
            continue
        refs = {u: data["ref_tokens"].get((test_set, u)) for u in ("wer", "cer")}
        lines += ["", f"### {TEST_SET_NAMES[test_set]}", "",
                  f"({refs['wer']} reference words, {refs['cer']} reference characters; error rates in %, mean over "
                  "seeds with the (min-max) range, then each seed)", ""]
        lines += markdown_table(summaries, test_set, models, MODEL_NAMES, seeds)
        lines += ["", f"Differences ({SPREAD_RULE}):", ""]
        lines += [f"- {c.sentence(MODEL_NAMES)}" for c in comparisons if c.test_set == test_set] or \
            ["- none: fewer than two seeds finished"]
    walls = [c for c in cells_info if not c.get("skipped")]
    by_code: Dict[str, List[str]] = {}
    for c in cells_info:
        by_code.setdefault(c.get("code", "not recorded"), []).append(c["cell"])
    if len(by_code) > 1:
        lines += ["", "The cells ran at different code versions: " + "; ".join(
            f"git {code}: {', '.join(cells)}" for code, cells in sorted(by_code.items()))]
    if cells_info:
        lines += ["", "Wall time per cell (s, this invocation; a resumed cell counts only its last part): " +
                  ", ".join(f"{c['cell']} {c['wall_s']:.0f}" for c in cells_info)]
    text = "\n".join(lines) + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".md").write_text(text)
    payload = dict(
        command=command, code=git_state(), date=now(), budget=vars(budget), models=list(models),
        results={f"{t}/{m}/{u}": s.as_dict() for (t, m, u), s in sorted(summaries.items())},
        comparisons=[c.as_dict() for c in comparisons], spread_rule=SPREAD_RULE,
        runs={f"{st}/{m}/seed{s}": v for (st, m, s), v in sorted(data["updates"].items())},
        ref_tokens={f"{t}/{u}": v for (t, u), v in data["ref_tokens"].items()},
        cells=cells_info, cells_run_now=len(walls),
    )
    output.with_suffix(".json").write_text(json.dumps(payload, indent=1) + "\n")
    return text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_quality"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=2, help="seed chains run at once (one CPU core each)")
    parser.add_argument("--tiny", action="store_true", help="tiny corpus and 2-epoch budgets (a check, not a result)")
    parser.add_argument("--local_data_opts", default=None, help="local/data.sh options (the corpus)")
    parser.add_argument("--pretrain_args", default=None, help="extra trinet_train options, every SSL model")
    parser.add_argument("--finetune_args", default=None, help="extra asr_train options, synthetic fine-tuning")
    parser.add_argument("--fsdd_finetune_args", default=None, help="extra asr_train options, FSDD fine-tuning")
    parser.add_argument("--fsdd_train_utts", type=int, default=None,
                        help="random FSDD train utterances to fine-tune on (default 170, a quarter; 0 = all)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS), metavar="MODEL",
                        help=f"models of bench/methods.py's table, in its order (default: all, {' '.join(MODELS)})")
    parser.add_argument("--log_interval", type=int, default=5)
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
                                         fsdd_finetune_args="", fsdd_train_utts=170)
    budget = Budget(seeds=args.seeds, log_interval=args.log_interval, **{
        k: getattr(args, k) if getattr(args, k) is not None else v for k, v in preset.items()})
    layout = Layout(args.work_dir)
    output = args.output or Path(__file__).resolve().parent / "results" / ("quality_tiny" if args.tiny else "quality")
    command = "python bench/quality.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    fsdd = args.fsdd_dir if (args.fsdd_dir / "recordings").is_dir() else None
    if fsdd is None:
        print(f"FSDD recordings not found in {args.fsdd_dir}: the FSDD transfer test (b) is skipped", flush=True)
    # One thread per process: two seed chains share a 2-core machine.
    os.environ["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")

    cells_info: List[dict] = []
    failures: List[str] = []
    if not args.report_only:
        try:
            cells_info += run_chain(base_cells(layout, budget, fsdd), layout)
        except CellFailed as err:
            print(err, file=sys.stderr)
            return 1
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {s: pool.submit(run_chain, seed_cells(layout, budget, s, fsdd is not None, models), layout)
                       for s in budget.seeds}
            for seed, future in futures.items():
                try:
                    cells_info += future.result()
                except CellFailed as err:
                    failures.append(str(err))
    else:
        cells_info = [json.loads(p.read_text()) for p in sorted((layout.work / "done").glob("*.json"))]
    text = report(layout, budget, command, cells_info, output, fsdd, args.fsdd_dir, models)
    print(text)
    print(f"wrote {output}.md and {output}.json")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
