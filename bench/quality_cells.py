"""The cells of the quality benchmark: where each one lives and the recipe commands that make it.

Every model goes through the recipe's own entry points (``run.sh`` stages, ``asr.sh`` stages);
nothing here re-implements training, decoding or scoring. The models are the entries of
``methods.py``'s table (a recipe method and the recipe options of this variant of it); a model
whose method config has a frozen-teacher target pretrains after the others were fine-tuned, with
the fine-tuned first model without one as its teacher, as in the recipe. Work-dir layout:

    base/egs2/mini_synth/trinet1/     stages 1-6 once (corpus, formatting, token list, SSL
                                      statistics) and the FSDD connected-digit data dirs
    seed<S>/egs2/mini_synth/trinet1/  a copy of base's data/ and dump/ (each seed chain re-splits
                                      data dirs in place, so parallel chains must not share them)
      exp/d2v/                        stages 7-8 (and 11) of the models without a frozen teacher:
                                      ssl_<method>_bench, asr_<method>_bench_bench (the first one
                                      is the frozen teacher of this seed's other models),
                                      asr_scratch_bench, asr_stats_raw_en_char
      exp/<model>/                    stages 9-11 of each model with a frozen teacher (e.g.
                                      exp/trinet_random/ssl_trinet_bench), d2v's dirs linked in
      exp/fsdd/asr_<model>/           asr.sh stages 10-13 on FSDD: fine-tuned from the same
                                      pretrained encoders, tested on FSDD's test takes
    logs/<cell>.log, done/<cell>.json  each cell's output and its done marker

The recipe names experiment dirs from their options (exp/ssl_<method><options>); every run.sh
call here gives it fixed tags instead (``RECIPE_OPTS``), so that the names do not depend on the
budget and are computed in one place (``ssl_name``, ``asr_name``). A TriNet cell takes its
teacher from d2v's dirs and decodes its baselines (linked in); their done markers record the
settings they were made with, so both cells give the recipe the same options. No cell trains
an LM (``--use_lm false``): the benchmark compares greedy CTC decoding.
"""

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Union

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import (  # noqa: E402,F401  (some only for the drivers that import them from here)
    METHODS, MODEL_NAMES, MODELS, RECIPE, REPO, SCRATCH, SSL_MODELS, frozen_label, frozen_sources, independent,
    model, needs_teacher, teacher_model, with_teacher,
)

ASR_SH = REPO / "egs2" / "TEMPLATE" / "asr1" / "asr.sh"
RECIPE_SUBDIR = Path("egs2") / "mini_synth" / "trinet1"
FSDD_DIR = REPO.parent / "shared" / "data" / "fsdd"

BASELINE_EXPDIR = "d2v"  # the --expdir of stages 7-8 (its name in the work dirs of earlier runs)
BASELINE_CELL = BASELINE_EXPDIR
SYNTH_TEST = "test"
FSDD_SETS = {"fsdd_train": "train", "fsdd_dev": "dev", "fsdd_test": "test"}
FSDD_TEST = "fsdd_test"
# The greedy decode dirs, as utils/exp_names.sh's decode_dir_name names them (trinet.sh stage 11, asr.sh
# without an LM).
INFERENCE_TAG = "decode_ctc_greedy_asr_model_valid.cer_ctc.ave"
SSL_INIT = "valid.loss.ave.pth"  # the checkpoint fine-tuning starts from (trinet.sh --ssl_init_model)
ASR_CONFIG = "conf/finetune_ctc_tiny.yaml"
DECODE_CONFIG = "conf/decode_ctc_greedy.yaml"
SSL_TAG = "bench"  # trinet.sh --ssl_tag: exp/ssl_<method>_bench
ASR_TAG = "bench"  # trinet.sh --asr_tag: exp/asr_<method>_bench_bench, exp/asr_scratch_bench
ASR_STATS = "asr_stats_raw_en_char"  # asr.sh's statistics dir (asr_stats_raw_<lang>_<token tag>)
# Options of every run.sh call: the dir names above, and no LM (stage 5 would train one, stage 11
# decode with it; the comparison is greedy CTC).
RECIPE_OPTS = ["--ssl_tag", SSL_TAG, "--asr_tag", ASR_TAG, "--use_lm", "false"]


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
        local_data_opts: options of the recipe's local/data.sh (the corpus; seed-independent).
        pretrain_args: extra trinet_train options for every SSL model alike.
        finetune_args: extra asr_train options for the synthetic fine-tuning.
        fsdd_finetune_args: extra asr_train options for the FSDD fine-tuning.
        fsdd_train_utts: random FSDD training utterances to fine-tune on (0 = all).
        log_interval: batches per training-log line (the collapse curves' resolution).
        nj: parallel data/decoding jobs inside one cell.
    """

    seeds: List[int] = field(default_factory=lambda: [0, 1])
    local_data_opts: str = ""
    pretrain_args: str = ""
    finetune_args: str = ""
    fsdd_finetune_args: str = ""
    fsdd_train_utts: int = 0
    log_interval: int = 5
    nj: int = 2


@dataclass
class Cell:
    """One unit of work: commands run in ``cwd``, after ``setup`` (links, copies)."""

    name: str
    cwd: Path
    commands: List[List[str]]
    setup: Optional[Callable[[], None]] = None


class Layout:
    """Paths of the benchmark's work dir (see the module docstring)."""

    def __init__(self, work_dir: Path):
        self.work = Path(work_dir)

    def base(self) -> Path:
        return self.work / "base" / RECIPE_SUBDIR

    def seed(self, seed: int) -> Path:
        return self.work / f"seed{seed}" / RECIPE_SUBDIR

    def log(self, cell: str) -> Path:
        return self.work / "logs" / f"{cell.replace('/', '_')}.log"

    def done(self, cell: str) -> Path:
        return self.work / "done" / f"{cell.replace('/', '_')}.json"

    def expdir(self, seed: int, key: str) -> Path:
        """The recipe --expdir a model's synthetic-corpus experiments live in."""
        return self.seed(seed) / "exp" / (key if needs_teacher(key) else BASELINE_EXPDIR)

    def ssl_dir(self, seed: int, key: str) -> Path:
        method = model(key).method
        if method is None:
            raise ValueError(f"the model '{key}' has no SSL experiment (no pretraining)")
        return self.expdir(seed, key) / ssl_name(method)

    def asr_dir(self, seed: int, key: str, test_set: str = SYNTH_TEST) -> Path:
        """The fine-tuned ASR experiment that is decoded on ``test_set``."""
        if test_set == FSDD_TEST:
            return self.seed(seed) / "exp" / "fsdd" / f"asr_{key}"
        return self.expdir(seed, key) / asr_name(model(key).method)

    def scores(self, seed: int, model: str, test_set: str, unit: str) -> Path:
        """scores.json of ``unit`` (wer or cer), as written by asr.sh stage 13."""
        return self.asr_dir(seed, model, test_set) / INFERENCE_TAG / test_set / f"score_{unit}" / "scores.json"


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


def base_cells(layout: Layout, budget: Budget, fsdd_dir: Optional[Path]) -> List[Cell]:
    """Seed-independent data work: recipe stages 1-6, and the FSDD data dirs and token list.

    The recipe gets every method of the table (whichever models a run selects): stage 4 keeps
    what all their encoders can encode, so the data is the same for every selection.
    """
    base = layout.base()
    cells = [Cell("base/recipe", base, [["./run.sh", "--stage", "1", "--stop_stage", "6",
                                          "--ssl_methods", " ".join(METHODS), *RECIPE_OPTS,
                                          "--local_data_opts", budget.local_data_opts]],
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
            "--test_sets", FSDD_TEST, "--token_listdir", "data/token_list_fsdd", "--asr_config", ASR_CONFIG,
            "--inference_config", DECODE_CONFIG, *args]


def copy_base(layout: Layout, seed: int) -> None:
    """The seed's own recipe copy: base's data, dump and SSL statistics."""
    base, dst = layout.base(), layout.seed(seed)

    def make(tmp: Path) -> None:
        copy_recipe(tmp)
        for name in ("data", "dump"):
            shutil.copytree(base / name, tmp / name, symlinks=True)
        shutil.copytree(base / "exp" / "ssl_stats_16000", tmp / "exp" / BASELINE_EXPDIR / "ssl_stats_16000")

    fresh_copy(make, dst)


def frozen_seed_opts(key: str, seed: Union[int, str]) -> List[str]:
    """trinet_train options that give the model's random projections (every frozen-teacher
    target of its method) the seed: ``--target_conf <target>.seed=S`` each."""
    return [f"--target_conf {source}.seed={seed}" for source in frozen_sources(model(key).method)]


def check_models(models: Sequence[str]) -> None:
    """The selection must be one the cells can make (raises ValueError)."""
    for key in models:
        model(key)  # a known key
    base = independent(models)
    methods = [model(k).method for k in base]
    if len(set(methods)) != len(methods):
        raise ValueError(f"{base}: two models without a frozen teacher share a method; they would share "
                         f"exp/{BASELINE_EXPDIR}/{ssl_name('<method>')}")
    for key in base:
        if model(key).recipe_opts:
            raise ValueError(f"'{key}': recipe options of a model without a frozen teacher are not supported "
                             f"(its stage-7/8 cell is shared by {base})")
    teacher_model(models)  # a teacher exists when one is needed


def seed_cells(layout: Layout, budget: Budget, seed: int, with_fsdd: bool,
               models: Sequence[str] = MODELS) -> List[Cell]:
    """The models without a frozen teacher (+ their CTC fine-tuning, the first of them the teacher,
    and the no-pretraining baseline) with their decoding, then each model with a frozen teacher
    (its own run of stages 9-11), then the FSDD fine-tunings of all models, in table order."""
    check_models(models)
    recipe = layout.seed(seed)
    s = str(seed)
    pretrain = f"--seed {s} --log_interval {budget.log_interval} {budget.pretrain_args}".strip()
    finetune = f"--seed {s} {budget.finetune_args}".strip()
    base_models = independent(models)
    base_methods = [model(k).method for k in base_models]
    scratch = ["--scratch_baseline", "true" if SCRATCH in models else "false"]
    baseline = layout.seed(seed) / "exp" / BASELINE_EXPDIR
    cells = [Cell(f"seed{s}/{BASELINE_CELL}", recipe,
                  [["./run.sh", "--stage", "7", "--stop_stage", "11", "--expdir", str(baseline.relative_to(recipe)),
                    "--ssl_methods", " ".join(base_methods), *scratch, *RECIPE_OPTS, "--ssl_args", pretrain,
                    "--asr_args", finetune]],
                  setup=lambda: copy_base(layout, seed))]
    teacher = teacher_model(models)
    # What the TriNet cells read of d2v's (the teacher, the baselines they decode, the statistics).
    shared = ["ssl_stats_16000", ASR_STATS, *(name(m) for m in base_methods for name in (ssl_name, asr_name))]
    if SCRATCH in models:
        shared.append(asr_name(None))
    for key in with_teacher(models):
        m = model(key)
        exp = layout.expdir(seed, key)
        # The random projection is part of the model's randomness: it follows the seed.
        ssl_args = " ".join([pretrain, *frozen_seed_opts(key, seed)])
        cells.append(Cell(
            f"seed{s}/{key}", recipe,
            [["./run.sh", "--stage", "9", "--stop_stage", "11", "--expdir", str(exp.relative_to(recipe)),
              "--ssl_methods", " ".join(base_methods + [m.method]), "--teacher_method", model(teacher).method,
              *scratch, *RECIPE_OPTS, *m.recipe_opts, "--ssl_args", ssl_args, "--asr_args", finetune]],
            setup=lambda exp=exp: link_into(exp, baseline, shared)))
    if with_fsdd:
        fsdd_finetune = f"--seed {s} {budget.fsdd_finetune_args}".strip()
        for key in models:
            init = []
            if model(key).method is not None:
                ssl = layout.ssl_dir(seed, key).relative_to(recipe)
                init = ["--pretrained_model", f"{ssl}/{SSL_INIT}:encoder:encoder"]
            cells.append(Cell(f"seed{s}/fsdd_{key}", recipe, [asr_sh(
                budget, "--stage", "10", "--stop_stage", "13", "--expdir", "exp/fsdd",
                "--asr_stats_dir", "exp/fsdd/asr_stats_char", "--asr_tag", key, "--asr_args", fsdd_finetune, *init)]))
    return cells
