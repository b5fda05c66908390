#!/usr/bin/env python3
"""CER after CTC fine-tuning against pretraining wall-clock time: which method learns the most per
second of pretraining (data2vec 2.0's claim), on the embedded corpus, through the recipe itself.

    python bench/time_to_quality.py                    # data2vec, TriNet, data2vec2, trinet2; epochs 3, 6, 12
    python bench/time_to_quality.py --methods data2vec,data2vec2 --epochs 4,12
    # design choices, in the same work dir (data2vec and its fine-tuned teacher are reused):
    python bench/time_to_quality.py --name design_choices --epochs 12 --methods \
        data2vec,data2vec2_kept=$PWD/bench/configs/pretrain_data2vec2_kept_tiny.yaml,trinet2_decoder=$PWD/bench/configs/pretrain_trinet2_decoder_tiny.yaml

In a copy of egs2/mini_synth/trinet1 (``--work_dir``), one recipe run pretrains every method for
its config's 12 epochs keeping every epoch's checkpoint (``--ssl_args "--keep_nbest_models 12"``),
fine-tunes each from its last epoch (``--ssl_init_model 12epoch.pth``; the TriNets' frozen teacher
is data2vec's fine-tuned model, as in the recipe) and decodes greedily (no LM); then each earlier
epoch's checkpoint gets the same fine-tuning and decoding (``--asr_tag from_epoch<e>``). The
no-pretraining model is the point at 0 s. A pretraining's wall time at epoch e is read from its
``train.log`` (first line to the end of epoch e: start-up, training and validation), so on a
loaded machine it is wrong: run it alone. The frozen teacher's cost (its pretraining, fine-tuning
and the dump of its targets, shared by both TriNets) is not in a TriNet's time; the table says so.

Every step is a recipe call, skipped when the recipe's own markers say it is done, so a killed
run continues where it stopped. Writes bench/results/<name>.{json,md,png} (default time_to_quality).
A method is a recipe method name, or ``name=config`` as ``--ssl_methods`` takes it.
"""

import argparse
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality_cells import copy_recipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
LOG_TIME = re.compile(r"^\[[^\]]*\] (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
GREEDY = "decode_ctc_greedy_asr_model_valid.cer_ctc.ave"
TEST_SET = "test"


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="data2vec,trinet,data2vec2,trinet2",
                        help="recipe methods (conf/pretrain_<method>_tiny.yaml), in the recipe's order")
    parser.add_argument("--epochs", default="3,6,12", help="pretraining epochs fine-tuned from; the last is the run's")
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_time_to_quality"))
    parser.add_argument("--output_dir", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--name", default="time_to_quality", help="the result files' name")
    return parser


def log_seconds(line: str) -> Optional[float]:
    match = LOG_TIME.match(line)
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def epoch_wall_times(train_log: Path) -> Dict[int, float]:
    """{epoch: seconds from the log's first line to the end of that epoch (its results line)}."""
    text = train_log.read_text(errors="replace")
    if "The training was resumed" in text:
        # A resumed run's log starts at the resume: its times would leave the killed part out.
        raise RuntimeError(f"{train_log}: the run was resumed; its wall times are not one run's - rerun it whole")
    start, times = None, {}
    for line in text.splitlines():
        seconds = log_seconds(line)
        if seconds is None:
            continue
        start = seconds if start is None else start
        match = re.search(r"INFO: (\d+)epoch results:", line)
        if match:
            times[int(match.group(1))] = seconds - start
    return times


def cer(asr_dir: Path) -> dict:
    scores = json.loads((asr_dir / GREEDY / TEST_SET / "score_cer" / "scores.json").read_text())
    return dict(cer=scores["error_rate"], errors=scores["errors"], ref=scores["ref"])


def run(cmd: List[str], cwd: Path, log: Path) -> None:
    with open(log, "a") as out:
        out.write(f"\n[{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S}] $ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with code {result.returncode}: see {log}")


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    specs = args.methods.split(",")
    methods = [spec.split("=", 1)[0] for spec in specs]
    epochs = sorted(int(e) for e in args.epochs.split(","))
    last = epochs[-1]
    recipe = args.work_dir / "egs2" / "mini_synth" / "trinet1"
    copy_recipe(recipe)
    log = args.work_dir / "run.log"
    common = ["--ssl_methods", " ".join(specs), "--use_lm", "false", "--ssl_args", f"--keep_nbest_models {last}"]
    # The run: pretraining (every epoch kept), fine-tuning from the last epoch, greedy decoding.
    run(["./run.sh", "--stop_stage", "11", *common, "--ssl_init_model", f"{last}epoch.pth"], recipe, log)
    for epoch in epochs[:-1]:
        tagged = [*common, "--ssl_init_model", f"{epoch}epoch.pth", "--asr_tag", f"from_epoch{epoch}",
                  "--scratch_baseline", "false"]
        run(["./run.sh", "--stage", "8", "--stop_stage", "8", *tagged], recipe, log)
        run(["./run.sh", "--stage", "10", "--stop_stage", "11", *tagged], recipe, log)

    exp = recipe / "exp"
    suffix = f"_keep_nbest_models{last}"
    rows = [dict(method="scratch", epoch=0, pretrain_s=0.0, **cer(exp / "asr_scratch"))]
    for method in methods:
        ssl_dir = exp / f"ssl_{method}{suffix}"
        times = epoch_wall_times(ssl_dir / "train.log")
        for epoch in epochs:
            asr = exp / f"asr_{method}{suffix}" if epoch == last else exp / f"asr_{method}{suffix}_from_epoch{epoch}"
            rows.append(dict(method=method, epoch=epoch, pretrain_s=times[epoch], **cer(asr)))
    result = dict(rows=rows, setup=dict(
        command="python bench/time_to_quality.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        code=subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip(),
        methods=methods, epochs=epochs, work_dir=str(args.work_dir),
    ))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
    text = markdown(result)
    (args.output_dir / f"{args.name}.md").write_text(text)
    plot(result, args.output_dir / f"{args.name}.png")
    print(text)
    return 0


def markdown(result: dict) -> str:
    s = result["setup"]
    lines = [f"Command: `{s['command']}` ({s['date']}, code {s['code']})", "",
             "| method | pretraining epochs | pretraining wall time | test CER (%), greedy CTC |", "|---|---|---|---|"]
    for r in result["rows"]:
        name = "no pretraining" if r["method"] == "scratch" else r["method"]
        minutes, seconds = divmod(round(r["pretrain_s"]), 60)
        lines.append(f"| {name} | {r['epoch']} | {minutes} min {seconds:02d} s | {r['cer']:.1f} "
                     f"({r['errors']} of {r['ref']}) |")
    lines += ["", "Wall time: the pretraining's train.log, first line to the end of the epoch. A TriNet's time "
              "leaves out its frozen teacher (data2vec's pretraining and fine-tuning and the dump of its targets, "
              "made once for both TriNets)."]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    scratch = next(r for r in result["rows"] if r["method"] == "scratch")
    ax.axhline(scratch["cer"], color="grey", linestyle=":", label="no pretraining")
    for method in result["setup"]["methods"]:
        rows = [r for r in result["rows"] if r["method"] == method]
        ax.plot([r["pretrain_s"] / 60 for r in rows], [r["cer"] for r in rows], marker="o", label=method)
        for r in rows:
            ax.annotate(f"{r['epoch']}", (r["pretrain_s"] / 60, r["cer"]), textcoords="offset points", xytext=(3, 3),
                        fontsize=7)
    ax.set_xlabel("pretraining wall time (min), 2-core CPU")
    ax.set_ylabel("test CER (%) after CTC fine-tuning, greedy")
    ax.set_title("mini_synth: quality per pretraining time (labels: epochs)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
