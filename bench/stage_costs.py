#!/usr/bin/env python3
"""Wall time and disk use of each recipe stage, and the cost of the offline frozen-target
dump per hour of audio, from one run of the embedded recipe in a fresh copy, with its defaults
(stage 5 also trains the LM, stage 11 also decodes with it).

    python bench/stage_costs.py                     # runs egs2/mini_synth/trinet1/run.sh (20+ min, 2 CPUs)
    python bench/stage_costs.py --run_dir DIR --reuse   # re-read a finished run's log

Writes bench/results/stage_costs.{md,json} and prints the table.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Dict, List

import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs2" / "mini_synth" / "trinet1"
STAGE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(trinet\.sh:\d+:main\) Stage (\d+): (.*)$")
END_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(trinet\.sh:\d+:main\) Successfully finished")
ACCOUNTING = re.compile(r"# Accounting: time=(\d+)")
# Where each stage writes (glob patterns, as utils/exp_names.sh names the dirs: exp/ssl_<method><options>,
# exp/asr_<method dir><options> and exp/asr_stats_raw_<lang>_<token>, the token list in data/<lang>_token_list,
# stage 5's LM in exp/lm_<config>_<lang>_<token> and exp/lm_stats_<lang>_<token>, the dumps in
# dump/frozen_targets_<projector>_<teacher dir>): the disk a stage uses is the growth of what these match.
STAGE_OUTPUTS = {
    1: ["db", "data"], 2: ["data"], 3: ["dump/raw/org"], 4: ["dump/raw"], 5: ["data/*_token_list", "exp/lm_*"],
    6: ["exp/ssl_stats_16000"], 7: ["exp/ssl_*"], 8: ["exp/asr_*"],
    9: ["dump/frozen_targets_*", "exp/ssl_*"], 10: ["exp/asr_*"], 11: ["exp"], 12: ["exp"],
}
SSL_TRAIN_SET = "train"  # mini_synth's --ssl_train_set: the set whose dump is costed


def disk_bytes(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def stage_disk(recipe: Path, patterns: List[str]) -> int:
    """Bytes in what ``patterns`` match under ``recipe`` now (each path once)."""
    paths = {p for pattern in patterns for p in recipe.glob(pattern)}
    return sum(disk_bytes(p) for p in paths if not any(q in p.parents for q in paths))


def copy_recipe(run_dir: Path) -> Path:
    """A fresh copy of the recipe with the shared template and tools linked in."""
    (run_dir / "egs2").mkdir(parents=True)
    os.symlink(REPO / "egs2" / "TEMPLATE", run_dir / "egs2" / "TEMPLATE")
    os.symlink(REPO / "tools", run_dir / "tools")
    recipe = run_dir / "egs2" / "mini_synth" / "trinet1"
    shutil.copytree(RECIPE, recipe, ignore=shutil.ignore_patterns("data", "dump", "exp", "db", "RESULTS.md"))
    return recipe


def stage_times(log: str) -> List[Dict]:
    """(stage, title, seconds) from the timestamps of trinet.sh's "Stage N:" lines."""
    marks = []
    for line in log.splitlines():
        m = STAGE_LINE.match(line)
        if m and (not marks or marks[-1]["stage"] != int(m.group(2))):
            marks.append(dict(stage=int(m.group(2)), title=m.group(3), start=datetime.fromisoformat(m.group(1))))
        m = END_LINE.match(line)
        if m:
            marks.append(dict(stage=None, start=datetime.fromisoformat(m.group(1))))
    rows = []
    for cur, nxt in zip(marks, marks[1:]):
        if cur["stage"] is not None:
            rows.append(dict(stage=cur["stage"], title=cur["title"], seconds=(nxt["start"] - cur["start"]).total_seconds()))
    return rows


def dump_dirs(recipe: Path, dset: str = SSL_TRAIN_SET) -> List[Path]:
    """Every finished frozen-target dump of ``dset`` (one per projector the run's methods dumped)."""
    return sorted(d.parent for d in (recipe / "dump").glob(f"frozen_targets_*/{dset}/targets_info.yaml"))


def dump_cost(out: Path, recipe: Path) -> Dict:
    """Frozen-target dump of one set (``out`` = dump/frozen_targets_<projector>_<teacher>/<set>): job
    seconds, bytes, and both per hour of audio."""
    dset = out.name
    info = yaml.safe_load((out / "targets_info.yaml").read_text())
    samples = sum(int(line.split()[1]) for line in (recipe / "dump" / "raw" / dset / "utt2num_samples").read_text().splitlines())
    hours = samples / 16000 / 3600
    job_seconds = [int(m) for log in sorted((out / "log").glob("dump.*.log")) for m in ACCOUNTING.findall(log.read_text())]
    return dict(
        set=dset, dump=str(out.relative_to(recipe)), projector=info.get("projector"),
        utterances=info["num_utterances"], audio_hours=hours, jobs=len(job_seconds),
        wall_s=max(job_seconds), cpu_job_s=sum(job_seconds), bytes=info["bytes"],
        wall_s_per_hour=max(job_seconds) / hours, job_s_per_hour=sum(job_seconds) / hours,
        mb_per_hour=info["bytes"] / 2**20 / hours, dtype=info["dtype"], output_dim=info["output_dim"],
        kind=info["kind"],
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, default=Path("/tmp/trinet_stage_costs"))
    parser.add_argument("--reuse", action="store_true", help="do not run; read run_dir's run.log")
    parser.add_argument("--output_dir", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)

    recipe = args.run_dir / "egs2" / "mini_synth" / "trinet1"
    log_file = args.run_dir / "run.log"
    disk: Dict[int, int] = {}
    if not args.reuse:
        if args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        recipe = copy_recipe(args.run_dir)
        # One stage at a time, so the disk each stage adds can be measured after it.
        with open(log_file, "w") as log:
            for stage in range(1, 13):
                before = stage_disk(recipe, STAGE_OUTPUTS[stage])
                result = subprocess.run(["./run.sh", "--stage", str(stage), "--stop_stage", str(stage)], cwd=recipe,
                                        stdout=log, stderr=subprocess.STDOUT)
                if result.returncode != 0:
                    print(f"stage {stage} failed, see {log_file}", file=sys.stderr)
                    return 1
                disk[stage] = stage_disk(recipe, STAGE_OUTPUTS[stage]) - before
        (args.run_dir / "disk.json").write_text(json.dumps(disk))
    disk = {int(k): v for k, v in json.loads((args.run_dir / "disk.json").read_text()).items()}
    rows = stage_times(log_file.read_text())
    for row in rows:
        row["disk_mb"] = disk.get(row["stage"], 0) / 2**20
    dumps = [dump_cost(out, recipe) for out in dump_dirs(recipe)]
    result = dict(command="python bench/stage_costs.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  stages=rows, dumps=dumps, **(dict(dump=dumps[0]) if len(dumps) == 1 else {}))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "stage_costs.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"Command: `{result['command']}` (mini_synth defaults, 2-core CPU; each stage run alone)", "",
             "| stage | what | wall (s) | disk added (MB) |", "|---|---|---|---|"]
    lines += [f"| {r['stage']} | {r['title']} | {r['seconds']:.0f} | {r['disk_mb']:.1f} |" for r in rows]
    lines += [f"| all | | {sum(r['seconds'] for r in rows):.0f} | {sum(r['disk_mb'] for r in rows):.1f} |"]
    for dump in dumps:
        where = "" if len(dumps) == 1 else f" in `{dump['dump']}`"
        lines += ["", f"Frozen-target dump of `{dump['set']}`{where} ({dump['utterances']} utterances, "
                  f"{dump['audio_hours']:.3f} h, {dump['jobs']} parallel jobs, {dump['dtype']} x {dump['output_dim']} "
                  f"{dump['kind']} targets): {dump['wall_s']} s wall, {dump['cpu_job_s']} job-seconds, "
                  f"{dump['bytes'] / 2**20:.1f} MB; per hour of audio {dump['wall_s_per_hour']:.0f} s wall, "
                  f"{dump['job_s_per_hour']:.0f} job-seconds, {dump['mb_per_hour']:.1f} MB. The job time includes "
                  "loading Python, ESPnet and the teacher, which dominates at this size."]
    if not dumps:
        lines += ["", f"No frozen-target dump of `{SSL_TRAIN_SET}` in this run (no method with offline targets)."]
    text = "\n".join(lines) + "\n"
    (args.output_dir / "stage_costs.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
