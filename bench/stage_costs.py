#!/usr/bin/env python3
"""Wall time and disk use of each recipe stage, and the OFFLINE cost of each method's extra work
per hour of audio, from one run of the embedded recipe in a fresh copy, with its defaults (stage
5 also trains the LM, stage 11 also decodes with it) and the methods of --ssl_methods (default
data2vec, TriNet, MT4SSL and data2vec-aqc):

- the frozen-target dump (TriNet; stage 9): job time and bytes per hour of audio;
- MT4SSL's k-means labels (stage 7, made by prepare_sources before its pretraining): the k-means
  fit on the training set and the label jobs of each set, per hour of audio;
- data2vec-aqc's noise and impulse-response corpus (stage 7, made once per recipe: a fixed cost,
  not per hour), and its augmented copy, which the data loader makes on the fly in every epoch
  (timed here in-process on the run's training audio, per hour of audio).

    python bench/stage_costs.py                     # runs egs2/mini_synth/trinet1/run.sh (30+ min, 2 CPUs)
    python bench/stage_costs.py --run_dir DIR --reuse   # re-read a finished run's log

The recipe's log (run.log) gives each step's wall time: trinet.sh logs a line when a stage, a
pretraining, the k-means of a label source or the augmentation corpus starts, and a step ends at
the next line trinet.sh logs; the jobs a step runs through the job backend (utils/run.pl) end
their logs with ``# Accounting: time=<s>``. Writes bench/results/stage_costs.{md,json} and prints
the tables.
"""

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Dict, List, Sequence

import yaml

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs2" / "mini_synth" / "trinet1"
STAGE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(trinet\.sh:\d+:main\) Stage (\d+): (.*)$")
END_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(trinet\.sh:\d+:main\) Successfully finished")
ACCOUNTING = re.compile(r"# Accounting: time=(\d+)")
# Any line of trinet.sh's log function: where one step ends and the next begins.
RECIPE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d) \(trinet\.sh:\d+:(\w+)\) (.*)$")
# kmeans_label_opts, before the k-means fit (then the label jobs of each set and their merge).
KMEANS_LINE = re.compile(r"k-means of (\S+) features for (\S+): (\d+) clusters on (\S+) "
                         r"\(log: (\S+)/kmeans/learn\.log\)$")
# augmentation_list_opts, before make_augmentation_corpus.
AUGMENTATION_LINE = re.compile(r"generating noises and impulse responses for the augmented view in (\S+) "
                               r"\(log: \S+\)$")
# Python's logging in a tool's own log (kmeans_labels learn > learn.log).
TOOL_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ ", re.MULTILINE)
DEFAULT_SSL_METHODS = "data2vec trinet mt4ssl d2v_aqc"
AUGMENTED_VIEW = "augmented_span_mask"  # data2vec-aqc's view: its data loader adds the augmented copy
# Where each stage writes (glob patterns, as utils/exp_names.sh names the dirs: exp/ssl_<method><options>,
# exp/asr_<method dir><options> and exp/asr_stats_raw_<lang>_<token>, the token list in data/<lang>_token_list,
# stage 5's LM in exp/lm_<config>_<lang>_<token> and exp/lm_stats_<lang>_<token>, the dumps in
# dump/frozen_targets_<projector>_<teacher dir>, the k-means labels in dump/kmeans_<features>_k<clusters>, the
# augmentation corpus in dump/augmentation_<fs>): the disk a stage uses is the growth of what these match.
STAGE_OUTPUTS = {
    1: ["db", "data"], 2: ["data"], 3: ["dump/raw/org"], 4: ["dump/raw"], 5: ["data/*_token_list", "exp/lm_*"],
    6: ["exp/ssl_stats_16000"], 7: ["exp/ssl_*", "dump/kmeans_*", "dump/augmentation_*"], 8: ["exp/asr_*"],
    9: ["dump/frozen_targets_*", "dump/kmeans_*", "dump/augmentation_*", "exp/ssl_*"], 10: ["exp/asr_*"],
    11: ["exp"], 12: ["exp"],
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


def audio_hours(recipe: Path, dset: str) -> float:
    """Hours of 16 kHz audio of a formatted set (dump/raw/<set>/utt2num_samples)."""
    lines = (recipe / "dump" / "raw" / dset / "utt2num_samples").read_text().splitlines()
    return sum(int(line.split()[1]) for line in lines if line.strip()) / 16000 / 3600


def job_seconds(log_dir: Path) -> List[int]:
    """``# Accounting: time=`` of each job log (dump.<n>.log) of a step run through the job backend."""
    return [int(m) for log in sorted(Path(log_dir).glob("dump.*.log")) for m in ACCOUNTING.findall(log.read_text())]


def recipe_steps(log: str, message: re.Pattern) -> List[Dict]:
    """Each step of the recipe whose trinet.sh line matches ``message``: its match, start time and
    seconds to the next trinet.sh line (None if the log ends first: the run stopped in it)."""
    lines = [(datetime.fromisoformat(m.group(1)), m.group(3)) for m in map(RECIPE_LINE.match, log.splitlines()) if m]
    steps = []
    for i, (start, text) in enumerate(lines):
        m = message.search(text)
        if m:
            end = lines[i + 1][0] if i + 1 < len(lines) else None
            steps.append(dict(match=m, start=start, seconds=None if end is None else (end - start).total_seconds()))
    return steps


def per_set_jobs(out: Path, recipe: Path, info_name: str) -> Dict:
    """One set's jobs of a step (``out`` = <step dir>/<set>, with <info_name> and log/dump.*.log):
    utterances, audio hours, jobs, wall (the longest job), job-seconds, bytes, and each per hour."""
    info = yaml.safe_load((out / info_name).read_text())
    hours = audio_hours(recipe, out.name)
    seconds = job_seconds(out / "log")
    wall, total = (max(seconds), sum(seconds)) if seconds else (None, None)
    return dict(set=out.name, utterances=info["num_utterances"], audio_hours=hours, jobs=len(seconds), wall_s=wall,
                job_s=total, bytes=info["bytes"], wall_s_per_hour=None if wall is None else wall / hours,
                job_s_per_hour=None if total is None else total / hours, mb_per_hour=info["bytes"] / 2**20 / hours)


def kmeans_costs(log: str, recipe: Path, train_set: str = SSL_TRAIN_SET) -> List[Dict]:
    """MT4SSL's k-means labels, one entry per label dir the run made (its trinet.sh line):

    - ``fit``: the k-means on the training set, from the recipe's line to the last line of its
      learn.log (loading Python, reading and featurising the sampled audio, the fit), and the fit
      alone (kmeans_info.yaml's ``fit_seconds``), per hour of training audio;
    - ``sets``: the label jobs of each set (``per_set_jobs``);
    - ``wall_s``: the whole step (fit, every set's jobs and merge), to the recipe's next line, and
      per hour of the labelled audio (all sets).
    """
    costs = []
    for step in recipe_steps(log, KMEANS_LINE):
        features, source, clusters, fit_set, labels = step["match"].groups()
        labels_dir = recipe / labels
        info = yaml.safe_load((labels_dir / "kmeans" / "kmeans_info.yaml").read_text())
        learn_times = TOOL_TIME.findall((labels_dir / "kmeans" / "learn.log").read_text())
        fit_wall = (datetime.fromisoformat(learn_times[-1]) - step["start"]).total_seconds() if learn_times else None
        fit_hours = audio_hours(recipe, fit_set)
        sets = [per_set_jobs(d.parent, recipe, "labels_info.yaml")
                for d in sorted(labels_dir.glob("*/labels_info.yaml"), key=lambda d: (d.parent.name != train_set, d))]
        hours = sum(s["audio_hours"] for s in sets)
        costs.append(dict(
            labels=labels, source=source, features=features, clusters=int(clusters), fit_set=fit_set,
            fit=dict(audio_hours=fit_hours, sample_utterances=info.get("sample_utterances"),
                     sample_frames=info.get("sample_frames"), wall_s=fit_wall, fit_s=info.get("fit_seconds"),
                     wall_s_per_hour=None if fit_wall is None else fit_wall / fit_hours,
                     fit_s_per_hour=None if info.get("fit_seconds") is None else info["fit_seconds"] / fit_hours),
            sets=sets, wall_s=step["seconds"], audio_hours=hours,
            wall_s_per_hour=None if step["seconds"] is None or not hours else step["seconds"] / hours,
        ))
    return costs


def augmentation_corpus_costs(log: str, recipe: Path) -> List[Dict]:
    """data2vec-aqc's generated noise and impulse-response corpus, one entry per corpus the run
    made: a fixed cost of the recipe (made once, whatever the hours of audio), its wall time to
    the recipe's next line, files and bytes."""
    costs = []
    for step in recipe_steps(log, AUGMENTATION_LINE):
        corpus = recipe / step["match"].group(1)
        settings = json.loads((corpus / "settings.json").read_text()) if (corpus / "settings.json").exists() else {}
        lists = {name: len([line for line in (corpus / f"{name}.scp").read_text().splitlines() if line.strip()])
                 for name in ("noise", "rir") if (corpus / f"{name}.scp").exists()}
        costs.append(dict(corpus=step["match"].group(1), wall_s=step["seconds"], bytes=disk_bytes(corpus),
                          noises=lists.get("noise"), rirs=lists.get("rir"),
                          noise_seconds=settings.get("noise_seconds"), rt60_range=settings.get("rt60_range")))
    return costs


def augmentation_seconds_per_hour(conf: Dict, waves: Sequence, fs: int = 16000, min_seconds: float = 0.0,
                                  max_passes: int = 50, seed: int = 0) -> float:
    """Seconds one process takes to augment an hour of audio as data2vec-aqc's data loader does
    (``StudentAugmentation`` with the view's settings: white noise, an impulse response, a background
    noise at their probabilities), timed on ``waves`` ((S,) float arrays at ``fs``), passing over them
    until ``min_seconds`` of measuring (at least once, at most ``max_passes`` times)."""
    import numpy as np

    from espnet_trinet.augmentation.student_augmentation import StudentAugmentation

    augmentation = StudentAugmentation(**conf)
    audio_seconds = sum(len(w) for w in waves) / fs
    if audio_seconds <= 0:
        raise ValueError("no audio to time the augmentation on")
    rng = np.random.default_rng(seed)
    passes, start = 0, time.perf_counter()
    while True:
        for wave in waves:
            augmentation(wave, rng)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds or passes >= max_passes:
            return elapsed / (passes * audio_seconds) * 3600


def loader_augmentation_costs(recipe: Path, train_set: str = SSL_TRAIN_SET, max_audio_seconds: float = 120.0,
                              min_seconds: float = 3.0) -> List[Dict]:
    """The augmented copy of each pretraining with an augmented view (exp/ssl_*/config.yaml), timed
    in-process with the experiment's own settings and lists (relative to the recipe folder) on the
    first ``max_audio_seconds`` of the training set's audio: seconds per hour of audio, for every
    epoch (each epoch makes a new copy)."""
    import soundfile as sf

    costs = []
    for config_file in sorted(recipe.glob("exp/ssl_*/config.yaml")):
        config = yaml.safe_load(config_file.read_text()) or {}
        conf = (config.get("view_conf") or {}).get("augmentation")
        if config.get("view") != AUGMENTED_VIEW or conf is None:
            continue
        with contextlib.chdir(recipe):  # the lists and the wav.scp hold paths relative to the recipe
            waves, seconds = [], 0.0
            for line in (Path("dump") / "raw" / train_set / "wav.scp").read_text().splitlines():
                if seconds >= max_audio_seconds or not line.strip():
                    break
                wave, fs = sf.read(line.split(maxsplit=1)[1], dtype="float32")
                waves.append(wave)
                seconds += len(wave) / fs
            per_hour = augmentation_seconds_per_hour(conf, waves, fs=int(conf.get("fs", 16000)),
                                                     min_seconds=min_seconds)
        costs.append(dict(experiment=str(config_file.parent.relative_to(recipe)), set=train_set,
                          utterances=len(waves), audio_s=seconds, s_per_hour=per_hour, ms_per_audio_s=per_hour / 3.6,
                          max_epoch=config.get("max_epoch"), num_workers=config.get("num_workers")))
    return costs


def dump_dirs(recipe: Path, dset: str = SSL_TRAIN_SET) -> List[Path]:
    """Every finished frozen-target dump of ``dset`` (one per projector the run's methods dumped)."""
    return sorted(d.parent for d in (recipe / "dump").glob(f"frozen_targets_*/{dset}/targets_info.yaml"))


def dump_cost(out: Path, recipe: Path) -> Dict:
    """Frozen-target dump of one set (``out`` = dump/frozen_targets_<projector>_<teacher>/<set>): job
    seconds, bytes, and both per hour of audio."""
    dset = out.name
    info = yaml.safe_load((out / "targets_info.yaml").read_text())
    hours = audio_hours(recipe, dset)
    seconds = job_seconds(out / "log")
    return dict(
        set=dset, dump=str(out.relative_to(recipe)), projector=info.get("projector"),
        utterances=info["num_utterances"], audio_hours=hours, jobs=len(seconds),
        wall_s=max(seconds), cpu_job_s=sum(seconds), bytes=info["bytes"],
        wall_s_per_hour=max(seconds) / hours, job_s_per_hour=sum(seconds) / hours,
        mb_per_hour=info["bytes"] / 2**20 / hours, dtype=info["dtype"], output_dim=info["output_dim"],
        kind=info["kind"],
    )


def _n(value, digits: int = 0, unit: str = "") -> str:
    """A number for the report ("?" where the run's files did not tell)."""
    return "?" if value is None else f"{value:.{digits}f}{unit}"


def report_lines(result: Dict) -> List[str]:
    """The markdown of a result: the stage table, then each extra offline cost."""
    methods = f", --ssl_methods \"{result['ssl_methods']}\"" if result.get("ssl_methods") else ""
    rows = result["stages"]
    lines = [f"Command: `{result['command']}` (mini_synth defaults{methods}; 2-core CPU; each stage run alone)", "",
             "| stage | what | wall (s) | disk added (MB) |", "|---|---|---|---|"]
    lines += [f"| {r['stage']} | {r['title']} | {r['seconds']:.0f} | {r['disk_mb']:.1f} |" for r in rows]
    lines += [f"| all | | {sum(r['seconds'] for r in rows):.0f} | {sum(r['disk_mb'] for r in rows):.1f} |"]
    dumps = result["dumps"]
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
    for km in result.get("kmeans", []):
        fit = km["fit"]
        lines += ["", f"K-means labels `{km['labels']}` (source `{km['source']}`: {km['clusters']} clusters of "
                  f"{km['features']} features; MT4SSL's), made before the pretraining (stage 7, prepare_sources):",
                  "",
                  f"- k-means on `{km['fit_set']}` ({fit['audio_hours']:.3f} h; {fit['sample_utterances']} utterances, "
                  f"{fit['sample_frames']} frames sampled): {_n(fit['wall_s'])} s wall, the fit itself "
                  f"{_n(fit['fit_s'], 2)} s; per hour of training audio {_n(fit['wall_s_per_hour'])} s wall "
                  f"(the fit {_n(fit['fit_s_per_hour'], 1)} s)."]
        for st in km["sets"]:
            lines += [f"- labels of `{st['set']}` ({st['utterances']} utterances, {st['audio_hours']:.3f} h, "
                      f"{st['jobs']} parallel jobs): {_n(st['wall_s'])} s wall, {_n(st['job_s'])} job-seconds, "
                      f"{st['bytes'] / 2**20:.2f} MB; per hour of audio {_n(st['wall_s_per_hour'])} s wall, "
                      f"{_n(st['job_s_per_hour'])} job-seconds, {st['mb_per_hour']:.2f} MB."]
        lines += [f"- the whole step (k-means, every set's labels, merging; to the recipe's next line): "
                  f"{_n(km['wall_s'])} s wall, {_n(km['wall_s_per_hour'])} s per hour of the labelled audio "
                  f"({km['audio_hours']:.3f} h). Each job's time includes loading Python, which dominates at this "
                  "size."]
    for corpus in result.get("augmentation_corpus", []):
        lines += ["", f"data2vec-aqc's augmentation corpus `{corpus['corpus']}` ({corpus['noises']} noises of "
                  f"{corpus['noise_seconds']} s, {corpus['rirs']} impulse responses, "
                  f"{corpus['bytes'] / 2**20:.1f} MB): "
                  f"made once per recipe, a fixed cost (not per hour of audio): {_n(corpus['wall_s'])} s wall."]
    for aug in result.get("loader_augmentation", []):
        epochs = aug.get("max_epoch")
        per_run = f"; x {epochs} epochs = {aug['s_per_hour'] * epochs:.0f} s per hour of training audio per " \
                  "pretraining" if epochs else ""
        workers = aug.get("num_workers")
        where = ("in the training process (num_workers 0), adding to the step time" if workers == 0 else
                 f"in {workers} data-loader workers, overlapping the step" if workers else "in the data loader")
        lines += ["", f"data2vec-aqc's augmented copy (`{aug['experiment']}`'s view_conf.augmentation), made on the "
                  f"fly by the data loader in every epoch, {where}: timed in-process on {aug['audio_s']:.0f} s of "
                  f"`{aug['set']}` audio ({aug['utterances']} utterances), {aug['s_per_hour']:.1f} s per hour of audio "
                  f"({aug['ms_per_audio_s']:.2f} ms per second of audio) per epoch{per_run}."]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run_dir", type=Path, default=Path("/tmp/trinet_stage_costs"))
    parser.add_argument("--reuse", action="store_true", help="do not run; read run_dir's run.log")
    parser.add_argument("--ssl_methods", default=DEFAULT_SSL_METHODS,
                        help="the recipe's --ssl_methods of the costed run (with --reuse: the run's own)")
    parser.add_argument("--output_dir", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)

    recipe = args.run_dir / "egs2" / "mini_synth" / "trinet1"
    log_file = args.run_dir / "run.log"
    disk: Dict[int, int] = {}
    if not args.reuse:
        if args.run_dir.exists():
            shutil.rmtree(args.run_dir)
        recipe = copy_recipe(args.run_dir)
        (args.run_dir / "run.json").write_text(json.dumps(dict(ssl_methods=args.ssl_methods)))
        # One stage at a time, so the disk each stage adds can be measured after it.
        with open(log_file, "w") as log:
            for stage in range(1, 13):
                before = stage_disk(recipe, STAGE_OUTPUTS[stage])
                result = subprocess.run(["./run.sh", "--stage", str(stage), "--stop_stage", str(stage),
                                         "--ssl_methods", args.ssl_methods], cwd=recipe,
                                        stdout=log, stderr=subprocess.STDOUT)
                if result.returncode != 0:
                    print(f"stage {stage} failed, see {log_file}", file=sys.stderr)
                    return 1
                disk[stage] = stage_disk(recipe, STAGE_OUTPUTS[stage]) - before
        (args.run_dir / "disk.json").write_text(json.dumps(disk))
    disk = {int(k): v for k, v in json.loads((args.run_dir / "disk.json").read_text()).items()}
    run_settings = args.run_dir / "run.json"
    # A run of an earlier version of this script: the recipe's own --ssl_methods (none recorded).
    ssl_methods = json.loads(run_settings.read_text())["ssl_methods"] if run_settings.exists() else None
    log = log_file.read_text()
    rows = stage_times(log)
    for row in rows:
        row["disk_mb"] = disk.get(row["stage"], 0) / 2**20
    dumps = [dump_cost(out, recipe) for out in dump_dirs(recipe)]
    result = dict(command="python bench/stage_costs.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                  ssl_methods=ssl_methods, stages=rows, dumps=dumps, **(dict(dump=dumps[0]) if len(dumps) == 1 else {}),
                  kmeans=kmeans_costs(log, recipe), augmentation_corpus=augmentation_corpus_costs(log, recipe),
                  loader_augmentation=loader_augmentation_costs(recipe))
    args.output_dir.mkdir(parents=True, exist_ok=True)
    (args.output_dir / "stage_costs.json").write_text(json.dumps(result, indent=1) + "\n")
    text = "\n".join(report_lines(result)) + "\n"
    (args.output_dir / "stage_costs.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
