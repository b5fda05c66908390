"""The cells of the quality benchmark: where each one lives and the recipe commands that make it.

Every model goes through the recipe's own entry points (``run.sh`` stages, ``asr.sh`` stages);
nothing here re-implements training, decoding or scoring. The models are the entries of
``methods.py``'s table (a recipe method and the recipe options of this variant of it); a model
whose method config has a frozen-teacher target pretrains after the teacher was fine-tuned, with
the fine-tuned first model without one (data2vec) as its teacher, as in the recipe. Work-dir
layout, one tree per corpus (``CORPORA``: the main job's corpus, and a larger unlabelled set):

    <corpus>/base/egs2/mini_synth/trinet1/  stages 1-6 once (corpus, formatting, token list and
                                      LM, SSL statistics) and the FSDD connected-digit data dirs
    <corpus>/seed<S>/egs2/mini_synth/trinet1/  a copy of base's data/ and dump/ (each seed chain
                                      re-splits data dirs in place, so parallel chains must not
                                      share them)
      exp/d2v/                        stages 7-8 (and 11) of the teacher model (data2vec:
                                      ssl_data2vec_bench, asr_data2vec_bench_bench) and the
                                      no-pretraining model (asr_scratch_bench), the ASR
                                      statistics, the LM (copied from base)
      exp/<model>/                    stages 7-11 of each other model without a frozen teacher,
                                      stages 9-11 of each model with one, d2v's dirs linked in
      exp/<model>_wallclock/          the same at the equal-wall-clock budget, where it differs
      exp/fsdd/asr_<model>/           asr.sh stages 10-13 on FSDD: fine-tuned from the same
                                      pretrained encoders, tested on FSDD's test takes
    logs/<corpus>_<cell>.log, done/<corpus>_<cell>.json  each cell's output and its done marker

The recipe names experiment dirs from their options (exp/ssl_<method><options>); every run.sh
call here gives it fixed tags instead (``RECIPE_OPTS``), so that the names do not depend on the
budget and are computed in one place (``ssl_name``, ``asr_name``). A cell that links in d2v's
dirs gives the recipe the same options as the cell that made them, so the settings their done
markers recorded match. The embedded test set is decoded greedily and with the recipe's LM
(``DECODINGS``); FSDD greedily.

Budgets: every pretraining gets ``UPDATES`` updates (``--num_iters_per_epoch`` x the configs'
12 epochs, on either corpus), or, at equal wall-clock time, the updates that fit in data2vec's
time by the throughput benchmark's step-time ratio (``wallclock_iters``).
"""

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import (  # noqa: E402,F401  (some only for the drivers that import them from here)
    METHODS, MODEL_NAMES, MODELS, RECIPE, REPO, SCRATCH, frozen_label, frozen_sources,
    model, needs_teacher, stretched_schedule_args, teacher_model, with_teacher,
)

ASR_SH = REPO / "egs2" / "TEMPLATE" / "asr1" / "asr.sh"
RECIPE_SUBDIR = Path("egs2") / "mini_synth" / "trinet1"
FSDD_DIR = REPO.parent / "shared" / "data" / "fsdd"

BASELINE_EXPDIR = "d2v"  # the --expdir of the teacher model and no pretraining
BASELINE_CELL = BASELINE_EXPDIR
SYNTH_TEST = "test"
FSDD_SETS = {"fsdd_train": "train", "fsdd_dev": "dev", "fsdd_test": "test"}
FSDD_TOKEN_LISTDIR = "data/token_list_fsdd"
FSDD_TEST = "fsdd_test"
SSL_INIT = "valid.loss.ave.pth"  # the checkpoint fine-tuning starts from (trinet.sh --ssl_init_model)
ASR_CONFIG = "conf/finetune_ctc_tiny.yaml"
DECODE_CONFIG = "conf/decode_ctc_greedy.yaml"
LM_DECODE_CONFIG = "conf/decode_ctc_lm.yaml"
# The recipe's LM (run.sh: --lm_config conf/train_lm_tiny.yaml, en, char), as utils/exp_names.sh's
# lm_dir_name names it; base's stage 5 trains it once per corpus.
LM_NAME = "lm_train_lm_tiny_en_char"
# The decode dirs, as utils/exp_names.sh's decode_dir_name names them (trinet.sh stage 11; asr.sh
# without an LM for FSDD).
INFERENCE_TAG = "decode_ctc_greedy_asr_model_valid.cer_ctc.ave"
LM_INFERENCE_TAG = f"decode_ctc_lm_lm_{LM_NAME}_valid.loss.ave_asr_model_valid.cer_ctc.ave"
DECODINGS = {"greedy": INFERENCE_TAG, "lm": LM_INFERENCE_TAG}
DECODING_NAMES = {"greedy": "greedy CTC", "lm": "CTC + LM (conf/decode_ctc_lm.yaml)"}
SSL_TAG = "bench"  # trinet.sh --ssl_tag: exp/ssl_<method>_bench
ASR_TAG = "bench"  # trinet.sh --asr_tag: exp/asr_<method>_bench_bench, exp/asr_scratch_bench
ASR_STATS = "asr_stats_raw_en_char"  # asr.sh's statistics dir (asr_stats_raw_<lang>_<token tag>)
# Options of every run.sh call: the dir names above. The LM is trained by base's stage 5 and
# every stage 11 decodes greedily and with it.
RECIPE_OPTS = ["--ssl_tag", SSL_TAG, "--asr_tag", ASR_TAG, "--use_lm", "true"]
# Updates per pretraining epoch at the equal budget: the main corpus's own epoch (384 utterances in
# ~25 s batches: 39 batches), given to every pretraining (--num_iters_per_epoch) so that the larger
# corpus gets the same updates and audio per update; x the configs' 12 epochs = 468 updates.
ITERS_PER_EPOCH = 39
PRETRAIN_EPOCHS = 12
UPDATES = ITERS_PER_EPOCH * PRETRAIN_EPOCHS
BUDGETS = ("updates", "wallclock")


def budget_title(budget: str, iters_per_epoch: int = ITERS_PER_EPOCH) -> str:
    """The report's name of a budget with ``iters_per_epoch`` updates per pretraining epoch."""
    if budget == "updates":
        return f"equal pretraining budget ({iters_per_epoch * PRETRAIN_EPOCHS} updates of ~25 s of audio)"
    if budget == "wallclock":
        return "equal pretraining wall-clock time (data2vec's, by the throughput benchmark's step-time ratios)"
    raise ValueError(f"unknown budget '{budget}'; choose from {BUDGETS}")


@dataclass(frozen=True)
class Corpus:
    """One pretraining-set size: the same labelled subset, dev and test, more or less unlabelled audio."""

    name: str
    description: str
    local_data_opts: str


CORPORA: Dict[str, Corpus] = {
    "main": Corpus("main", "the main job's corpus: 16 training speakers x 24 utterances = 384 (4x the 96 "
                           "labelled)", ""),
    "large": Corpus("large", "the main corpus + 32 unlabelled speakers x 24 utterances (train_extra) = 1152 "
                             "(12x the same 96 labelled)", "--num_extra_train_speakers 32"),
}


def ssl_name(method: str) -> str:
    """The pretraining dir of ``method`` in a recipe --expdir (trinet.sh: ssl_<method dir>)."""
    return f"ssl_{method}_{SSL_TAG}"


def asr_name(method: Optional[str]) -> str:
    """The CTC fine-tuning dir of ``method`` (None: no pretraining) in a recipe --expdir
    (trinet.sh: asr_<method dir><asr suffix>, the method dir of no pretraining being scratch)."""
    method_dir = SCRATCH if method is None else f"{method}_{SSL_TAG}"
    return f"asr_{method_dir}_{ASR_TAG}"


@dataclass
class Budget:
    """What every model of one benchmark run gets (the same for all of them).

    Attributes:
        seeds: seeds of pretraining and fine-tuning (model init, masks, batch order).
        local_data_opts: extra options of the recipe's local/data.sh (after the corpus's own).
        pretrain_args: extra trinet_train options for every SSL model alike.
        finetune_args: extra asr_train options for the synthetic fine-tuning.
        fsdd_finetune_args: extra asr_train options for the FSDD fine-tuning.
        fsdd_train_utts: random FSDD training utterances to fine-tune on (0 = all).
        log_interval: batches per training-log line (the collapse curves' resolution).
        nj: parallel data/decoding jobs inside one cell.
        iters_per_epoch: pretraining updates per epoch (--num_iters_per_epoch) at the equal budget.
        wallclock_iters: {model: updates per epoch at equal wall-clock time}, for the models whose
            wall-clock budget differs from the equal one (see ``wallclock_iters``).
        schedule_scale: every method config's update-based schedules (EMA anneal, teacher freeze,
            LR warm-up and cosine cycle, per-update decays) stretched by this factor
            (``methods.stretched_schedule_args``): with ``iters_per_epoch`` = scale x 39 a longer
            run of the same schedule shape. 1 = the configs' own.
    """

    seeds: List[int] = field(default_factory=lambda: [0, 1, 2])
    local_data_opts: str = ""
    pretrain_args: str = ""
    finetune_args: str = ""
    fsdd_finetune_args: str = ""
    fsdd_train_utts: int = 0
    log_interval: int = 5
    nj: int = 2
    iters_per_epoch: int = ITERS_PER_EPOCH
    wallclock_iters: Dict[str, int] = field(default_factory=dict)
    schedule_scale: float = 1.0


# Step-time ratios within this of 1 count as data2vec's time: repeated throughput runs of the same
# code gave TriNet-offline 0.96x and 1.09x data2vec at 9 rounds each, so smaller differences are
# not measured (bench/RESULTS.md).
WALLCLOCK_TOLERANCE = 0.10


def wallclock_iters(step_ratio: Dict[str, float], iters_per_epoch: int = ITERS_PER_EPOCH,
                    tolerance: float = WALLCLOCK_TOLERANCE) -> Dict[str, int]:
    """Updates per epoch that give each model data2vec's pretraining time.

    Args:
        step_ratio: {model: its training step's time / data2vec's}, e.g. 1.8 for data2vec-aqc.
        tolerance: ratios within it of 1 keep the equal budget (the measurement's resolution).
    Returns:
        {model: round(iters_per_epoch / ratio)} (at least 1) for the models whose ratio is more
        than ``tolerance`` from 1 and whose updates differ; the others' equal-time run is their
        equal-budget run.
    """
    out = {}
    for key, ratio in step_ratio.items():
        if ratio <= 0:
            raise ValueError(f"{key}: step-time ratio {ratio} must be positive")
        iters = max(1, round(iters_per_epoch / ratio))
        if abs(ratio - 1.0) > tolerance and iters != iters_per_epoch:
            out[key] = iters
    return out


@dataclass
class Cell:
    """One unit of work: commands run in ``cwd``, after ``setup`` (links, copies)."""

    name: str
    cwd: Path
    commands: List[List[str]]
    setup: Optional[Callable[[], None]] = None


class Layout:
    """Paths of the benchmark's work dir for one corpus (see the module docstring).

    Args:
        work_dir: the benchmark's work dir (all corpora).
        corpus: a key of ``CORPORA``.
        wallclock: {model: updates per epoch} of the models with their own equal-time run.
    """

    def __init__(self, work_dir: Path, corpus: str = "main", wallclock: Optional[Dict[str, int]] = None):
        if corpus not in CORPORA:
            raise ValueError(f"unknown corpus '{corpus}'; choose from {list(CORPORA)}")
        self.work = Path(work_dir)
        self.corpus = corpus
        self.root = self.work / corpus
        self.wallclock = dict(wallclock or {})

    def base(self) -> Path:
        return self.root / "base" / RECIPE_SUBDIR

    def seed(self, seed: int) -> Path:
        return self.root / f"seed{seed}" / RECIPE_SUBDIR

    def _file(self, kind: str, cell: str, suffix: str) -> Path:
        return self.work / kind / f"{self.corpus}_{cell.replace('/', '_')}{suffix}"

    def log(self, cell: str) -> Path:
        return self._file("logs", cell, ".log")

    def done(self, cell: str) -> Path:
        return self._file("done", cell, ".json")

    def own_wallclock_run(self, key: str, budget: str) -> bool:
        """Does the model have an equal-time run of its own (else its equal-budget one is it)?"""
        if budget not in BUDGETS:
            raise ValueError(f"unknown budget '{budget}'; choose from {BUDGETS}")
        return budget == "wallclock" and key in self.wallclock

    def expdir(self, seed: int, key: str, budget: str = "updates") -> Path:
        """The recipe --expdir a model's synthetic-corpus experiments live in."""
        if self.own_wallclock_run(key, budget):
            return self.seed(seed) / "exp" / f"{key}_wallclock"
        shared = key == SCRATCH or key == teacher_model(MODELS)
        return self.seed(seed) / "exp" / (BASELINE_EXPDIR if shared else key)

    def ssl_dir(self, seed: int, key: str, budget: str = "updates") -> Path:
        method = model(key).method
        if method is None:
            raise ValueError(f"the model '{key}' has no SSL experiment (no pretraining)")
        return self.expdir(seed, key, budget) / ssl_name(method)

    def asr_dir(self, seed: int, key: str, test_set: str = SYNTH_TEST, budget: str = "updates") -> Path:
        """The fine-tuned ASR experiment that is decoded on ``test_set``."""
        if test_set == FSDD_TEST:
            return self.seed(seed) / "exp" / "fsdd" / f"asr_{key}"
        return self.expdir(seed, key, budget) / asr_name(model(key).method)

    def scores(self, seed: int, model: str, test_set: str, unit: str, decoding: str = "greedy",
               budget: str = "updates") -> Path:
        """scores.json of ``unit`` (wer or cer), as written by asr.sh stage 13."""
        return (self.asr_dir(seed, model, test_set, budget) / DECODINGS[decoding] / test_set / f"score_{unit}" /
                "scores.json")


def copy_recipe(dst: Path) -> None:
    """A fresh copy of the recipe at ``dst`` (= <root>/egs2/mini_synth/trinet1), with the
    shared template and tools of this checkout linked in."""
    root = dst.parents[2]
    (root / "egs2").mkdir(parents=True, exist_ok=True)
    for name, target in (("egs2/TEMPLATE", REPO / "egs2" / "TEMPLATE"), ("tools", REPO / "tools")):
        if not (root / name).is_symlink():
            os.symlink(target, root / name)
    shutil.copytree(RECIPE, dst, ignore=shutil.ignore_patterns("data", "dump", "exp", "db", "RESULTS.md"),
                    dirs_exist_ok=True)


def fresh_copy(make: Callable[[Path], None], dst: Path) -> None:
    """Runs ``make(tmp)`` and renames tmp to ``dst``: a killed copy never looks complete."""
    if dst.exists():
        return
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    make(tmp)
    tmp.rename(dst)


def link_into(exp_dir: Path, source: Path, names: List[str]) -> None:
    """Relative symlinks ``exp_dir/<name> -> source/<name>`` (the teacher and baselines of a seed)."""
    exp_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        link = exp_dir / name
        if not link.is_symlink():
            os.symlink(os.path.relpath(source / name, exp_dir), link)


def py(module: str, *args: str) -> List[str]:
    return [sys.executable, "-m", module, *args]


def data_opts(layout: Layout, budget: Budget) -> str:
    """local/data.sh options of the layout's corpus."""
    return " ".join(o for o in (CORPORA[layout.corpus].local_data_opts, budget.local_data_opts) if o)


def base_cells(layout: Layout, budget: Budget, fsdd_dir: Optional[Path]) -> List[Cell]:
    """Seed-independent data work: recipe stages 1-6 (the LM included), and the FSDD data dirs
    and token list.

    The recipe gets every method of the table (whichever models a run selects): stage 4 keeps
    what all their encoders can encode, so the data is the same for every selection.
    """
    base = layout.base()
    cells = [Cell("base/recipe", base, [["./run.sh", "--stage", "1", "--stop_stage", "6",
                                          "--ssl_methods", " ".join(METHODS), *RECIPE_OPTS,
                                          "--local_data_opts", data_opts(layout, budget)]],
                  setup=lambda: copy_recipe(base))]
    if fsdd_dir is None:
        return cells
    nj = str(budget.nj)
    cmds = [
        py("espnet_trinet.bin.make_fsdd_corpus", "--fsdd_dir", str(fsdd_dir), "--output_dir", "db/fsdd", "--nj", nj),
        py("espnet_trinet.bin.prepare_librispeech", "--corpus_dir", "db/fsdd", "--subsets", "train", "dev", "test",
           "--output_dir", "data/fsdd"),
    ]
    train_src = "data/fsdd/train"
    if budget.fsdd_train_utts > 0:
        # A random subset, so that the labelled data is scarce, as in the synthetic fine-tuning.
        cmds.append(py("espnet_trinet.bin.datadir", "filter", "--in_dir", train_src, "--out_dir",
                       "data/fsdd/train_subset", "--num_random", str(budget.fsdd_train_utts), "--seed", "0"))
        train_src = "data/fsdd/train_subset"
    for name, subset in FSDD_SETS.items():
        src = train_src if subset == "train" else f"data/fsdd/{subset}"
        # The test set keeps every utterance, as trinet.sh's stage 4 does for test sets.
        limits = ["--min_sec", "0", "--max_sec", "100000"] if subset == "test" else \
            ["--min_sec", "0.3", "--max_sec", "20"]
        cmds += [
            py("espnet_trinet.bin.format_datadir", "--in_dir", src, "--out_dir", f"dump/raw/org/{name}",
               "--fs", "16000", "--nj", nj),
            py("espnet_trinet.bin.filter_datadir", "--in_dir", f"dump/raw/org/{name}", "--out_dir",
               f"dump/raw/{name}", *limits),
            py("espnet_trinet.bin.datadir", "validate", f"dump/raw/{name}"),
        ]
    cmds.append(asr_sh(budget, "--stage", "5", "--stop_stage", "5"))
    cells.append(Cell("base/fsdd", base, cmds))
    return cells


def asr_sh(budget: Budget, *args: str) -> List[str]:
    """asr.sh on the FSDD sets, with their own token list and statistics, and no LM (greedy CTC)."""
    return ["bash", str(ASR_SH), "--python", sys.executable, "--use_lm", "false", "--nj", str(budget.nj),
            "--inference_nj", str(budget.nj), "--train_set", "fsdd_train", "--valid_set", "fsdd_dev",
            "--test_sets", FSDD_TEST, "--token_listdir", FSDD_TOKEN_LISTDIR, "--asr_config", ASR_CONFIG,
            "--inference_config", DECODE_CONFIG, *args]


def copy_base(layout: Layout, seed: int) -> None:
    """The seed's own recipe copy: base's data, dump, SSL statistics and LM."""
    base, dst = layout.base(), layout.seed(seed)

    def make(tmp: Path) -> None:
        copy_recipe(tmp)
        for name in ("data", "dump"):
            shutil.copytree(base / name, tmp / name, symlinks=True)
        for name in ("ssl_stats_16000", LM_NAME):
            shutil.copytree(base / "exp" / name, tmp / "exp" / BASELINE_EXPDIR / name)

    fresh_copy(make, dst)


# What base/fsdd makes that the FSDD cells of a seed read (asr.sh stages 10-13 on the FSDD sets).
FSDD_DATA = (FSDD_TOKEN_LISTDIR, *(f"dump/raw/{name}" for name in FSDD_SETS),
             *(f"dump/raw/org/{name}" for name in FSDD_SETS))


def copy_fsdd_data(layout: Layout, seed: int) -> None:
    """Base's FSDD dirs into the seed's copy, where they are missing: a seed copied in a run
    with --no_fsdd (before base/fsdd existed) gets them when the FSDD phase runs later."""
    base, dst = layout.base(), layout.seed(seed)
    for name in FSDD_DATA:
        if not (base / name).is_dir():
            raise FileNotFoundError(f"{base / name} is missing: the base/fsdd cell of {layout.corpus} did not make it")
        fresh_copy(lambda tmp, src=base / name: shutil.copytree(src, tmp, symlinks=True), dst / name)


def frozen_seed_opts(key: str, seed: Union[int, str]) -> List[str]:
    """trinet_train options that give the model's random projections (every frozen-teacher
    target of its method) the seed: ``--target_conf <target>.seed=S`` each."""
    return [f"--target_conf {source}.seed={seed}" for source in frozen_sources(model(key).method)]


def check_models(models: Sequence[str]) -> None:
    """The selection must be one the cells can make (raises ValueError)."""
    for key in models:
        model(key)  # a known key
    teacher = teacher_model(models)  # a teacher exists when one is needed
    if teacher is not None and teacher != teacher_model(MODELS):
        raise ValueError(f"the frozen teacher of {with_teacher(models)} would be '{teacher}'; the benchmark's is "
                         f"'{teacher_model(MODELS)}': select it too")
    if teacher is not None and model(teacher).recipe_opts:
        raise ValueError(f"'{teacher}': the teacher model's cell takes no recipe options")


def pretrain_opts(budget: Budget, seed: int, key: str, iters_per_epoch: int) -> str:
    """trinet_train options of one model's pretraining: the same for every model, then what its
    variant and its random projections add."""
    opts = [f"--seed {seed} --log_interval {budget.log_interval} --num_iters_per_epoch {iters_per_epoch}",
            *stretched_schedule_args(model(key).method, budget.schedule_scale), budget.pretrain_args,
            *frozen_seed_opts(key, seed), model(key).pretrain_args]
    return " ".join(o for o in opts if o)


def synth_cells(layout: Layout, budget: Budget, seed: int, models: Sequence[str] = MODELS,
                budget_name: str = "updates") -> List[Cell]:
    """The recipe runs of one seed at one budget: at the equal budget the teacher model (and no
    pretraining: exp/d2v), then every other model in table order, each in its own --expdir with
    d2v's dirs linked in; at equal wall-clock time the models with a run of their own."""
    check_models(models)
    recipe = layout.seed(seed)
    s = str(seed)
    finetune = f"--seed {s} {budget.finetune_args}".strip()
    teacher = teacher_model(MODELS)
    baseline = layout.seed(seed) / "exp" / BASELINE_EXPDIR
    # What the other cells read of d2v's: the statistics, the LM, the teacher (its dirs are decoded
    # again by the cells with a frozen teacher: a no-op, their done markers match).
    shared = ["ssl_stats_16000", ASR_STATS, LM_NAME]
    teacher_dirs = [ssl_name(model(teacher).method), asr_name(model(teacher).method)]
    cells = []
    if budget_name == "updates" and (SCRATCH in models or teacher in models):
        methods = [model(teacher).method] if teacher in models or with_teacher(models) else []
        cells.append(Cell(
            f"seed{s}/{BASELINE_CELL}", recipe,
            [["./run.sh", "--stage", "7", "--stop_stage", "11", "--expdir", str(baseline.relative_to(recipe)),
              "--ssl_methods", " ".join(methods) or "none", "--scratch_baseline",
              "true" if SCRATCH in models else "false", *RECIPE_OPTS, "--ssl_args",
              pretrain_opts(budget, seed, teacher, budget.iters_per_epoch), "--asr_args", finetune]],
            setup=lambda: copy_base(layout, seed)))
    for key in models:
        if key in (SCRATCH, teacher):
            continue
        if budget_name == "wallclock" and not layout.own_wallclock_run(key, "wallclock"):
            continue  # its equal-time run is its equal-budget run
        m = model(key)
        exp = layout.expdir(seed, key, budget_name)
        iters = budget.wallclock_iters[key] if budget_name == "wallclock" else budget.iters_per_epoch
        ssl_args = pretrain_opts(budget, seed, key, iters)
        if needs_teacher(key):
            stages = ["--stage", "9", "--stop_stage", "11", "--ssl_methods", f"{model(teacher).method} {m.method}",
                      "--teacher_method", model(teacher).method]
            links = shared + teacher_dirs
        else:
            stages = ["--stage", "7", "--stop_stage", "11", "--ssl_methods", m.method]
            links = shared
        suffix = "_wallclock" if budget_name == "wallclock" else ""
        cells.append(Cell(
            f"seed{s}/{key}{suffix}", recipe,
            [["./run.sh", *stages, "--expdir", str(exp.relative_to(recipe)), "--scratch_baseline", "false",
              *RECIPE_OPTS, *m.recipe_opts, "--ssl_args", ssl_args, "--asr_args", finetune]],
            setup=lambda exp=exp, links=links: (copy_base(layout, seed), link_into(exp, baseline, links))))
    return cells


def fsdd_cells(layout: Layout, budget: Budget, seed: int, models: Sequence[str] = MODELS) -> List[Cell]:
    """The FSDD fine-tunings of one seed: every model, the pretrained ones from their
    equal-budget encoders."""
    recipe = layout.seed(seed)
    s = str(seed)
    fsdd_finetune = f"--seed {s} {budget.fsdd_finetune_args}".strip()
    cells = []
    for key in models:
        init = []
        if model(key).method is not None:
            ssl = layout.ssl_dir(seed, key).relative_to(recipe)
            init = ["--pretrained_model", f"{ssl}/{SSL_INIT}:encoder:encoder"]
        cells.append(Cell(f"seed{s}/fsdd_{key}", recipe, [asr_sh(
            budget, "--stage", "10", "--stop_stage", "13", "--expdir", "exp/fsdd",
            "--asr_stats_dir", "exp/fsdd/asr_stats_char", "--asr_tag", key, "--asr_args", fsdd_finetune, *init)],
            setup=lambda: copy_fsdd_data(layout, seed)))
    return cells


def seed_cells(layout: Layout, budget: Budget, seed: int, with_fsdd: bool,
               models: Sequence[str] = MODELS) -> List[Cell]:
    """Every cell of one seed in the order they can run: the equal-budget runs, the
    equal-wall-clock runs, the FSDD fine-tunings."""
    cells = synth_cells(layout, budget, seed, models, "updates") + synth_cells(layout, budget, seed, models,
                                                                             "wallclock")
    return cells + (fsdd_cells(layout, budget, seed, models) if with_fsdd else [])
