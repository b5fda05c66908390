#!/usr/bin/env python3
"""2-D pictures (t-SNE) of the pretrained students' mid-level and high-level frame
representations on the embedded corpus's test set, coloured by the token each frame belongs to,
with a kNN accuracy per picture so that the picture is not the only evidence.

    python bench/representation_map.py --work_dir /tmp/trinet_compare --seeds 0 1 2
    python bench/representation_map.py --corpus large --output bench/results/representation_map_large

- mid level: output of block N-1 (TriNet's struc tap); high level: block N after the final
  LayerNorm (what CTC fine-tuning sees). The same two taps for every model (data2vec's own
  struc tap is block N). The models are the SSL models of a --models selection of
  bench/methods.py's table (default: the side-by-side comparison's, methods.COMPARED), in the
  quality benchmark's work dir of --corpus (quality_cells.Layout). Every method's student is the
  same conformer: its frontend, normalisation, input layer and blocks run on the clean waveform
  without masking, whatever its view (data2vec 2.0's visible-only frames, data2vec-aqc's
  augmented copy), heads, decoder, quantiser, codebooks or label source, none of which is run.
- frame classes: the reference transcript is force-aligned (CTC Viterbi, ctc_align.py) with a
  fine-tuned CTC model: by default the no-pretraining one (of the seed with the lowest test CER),
  so that the frame timing comes from none of the encoders compared; a frame on which the best
  path emits a character gets that character, blank frames are left out. The pictures and the
  accuracy use the 10 most frequent letters.
- kNN accuracy: 5 nearest neighbours (Euclidean, features standardised) on the full D-dim
  frames, 5-fold cross-validation grouped by utterance (a frame is never classified by
  neighbours from its own utterance, which would make adjacent frames trivially similar).
- effective rank: of all frames of the aligned test utterances at the same two taps for every
  model (the training logs measure it at the tap of each model's monitored objective, block N
  for data2vec).
- models: the SSL encoders of each seed, and the same architecture untrained (seeded init;
  the config of the selection's first SSL model) as a floor. The picture shows the first seed:
  a grid of three models per row, each model's mid and high level side by side.

Writes <output>.{png,md,json} (default bench/results/representation_map).
"""

import argparse
import json
import math
import os
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ctc_align import AlignmentError, ctc_forced_align, frame_labels, most_frequent  # noqa: E402
from methods import COMPARED, MODEL_NAMES, MODELS, SCRATCH, SSL_MODELS  # noqa: E402
from quality_cells import SSL_INIT, SYNTH_TEST, Layout  # noqa: E402

UNTRAINED = "untrained"
NAMES = {UNTRAINED: "untrained encoder", **MODEL_NAMES}
LEVELS = {"mid": "mid level (block N-1)", "high": "high level (block N + final norm)"}
NUM_CLASSES = 10
KNN_K = 5
FOLDS = 5
MAX_TSNE_FRAMES = 2500
MODELS_PER_ROW = 3  # the picture's grid: each model's two levels side by side
DEFAULT_MODELS = tuple(k for k in COMPARED if k in SSL_MODELS)


def read_set(recipe: Path, test_set: str) -> List[Tuple[str, np.ndarray, str]]:
    """(utt id, (S,) float32 16 kHz audio, reference text) of a formatted data dir."""
    data = recipe / "dump" / "raw" / test_set
    texts = dict(line.split(" ", 1) for line in (data / "text").read_text().splitlines() if " " in line)
    out = []
    for line in (data / "wav.scp").read_text().splitlines():
        utt, path = line.split(maxsplit=1)
        audio, fs = sf.read(recipe / path, dtype="float32")
        if fs != 16000:
            raise ValueError(f"{data}/wav.scp: {utt} is {fs} Hz; the formatted sets are 16 kHz")
        out.append((utt, audio, texts.get(utt, "").strip()))
    return out


def best_asr_model(layout: Layout, seeds: Sequence[int], models: Sequence[str]) -> Tuple[Path, float, int]:
    """Of ``models``' fine-tuned synthetic-corpus ASR experiments, the one with the lowest test CER,
    its CER and seed."""
    best = None
    for seed in seeds:
        for model in models:
            scores = layout.scores(seed, model, SYNTH_TEST, "cer")
            if scores.exists():
                cer = json.loads(scores.read_text())["error_rate"]
                if best is None or cer < best[1]:
                    best = (layout.asr_dir(seed, model), cer, seed)
    if best is None:
        raise FileNotFoundError(f"no scored ASR model of {list(models)} for seeds {list(seeds)}: run bench/quality.py "
                                "first")
    return best


@torch.no_grad()
def align_set(asr_dir: Path, utts) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """{utt: (T,) frame labels} from a CTC forced alignment of each reference transcript, and
    the model's token list (label -> token)."""
    from espnet2.bin.asr_inference import Speech2Text

    s2t = Speech2Text(asr_train_config=str(asr_dir / "config.yaml"),
                      asr_model_file=str(asr_dir / "valid.cer_ctc.ave.pth"), device="cpu")
    model = s2t.asr_model.eval()
    labels = {}
    for utt, audio, text in utts:
        speech = torch.from_numpy(audio)[None]
        enc, _ = model.encode(speech, torch.tensor([speech.size(1)]))
        log_probs = model.ctc.log_softmax(enc)[0].numpy()
        tokens = s2t.converter.tokens2ids(s2t.tokenizer.text2tokens(text))
        try:
            labels[utt] = frame_labels(ctc_forced_align(log_probs, tokens, blank=0))
        except AlignmentError as err:
            print(f"{utt}: not aligned ({err}); left out", file=sys.stderr)
    return labels, list(model.token_list)


def load_encoder(ssl_dir: Optional[Path], like: Path, seed: int):
    """A trained SSL model, or (``ssl_dir`` None) the architecture of ``like`` untrained, seeded."""
    from espnet_trinet.tasks.trinet import TriNetTask

    if ssl_dir is None:
        torch.manual_seed(seed)
        model, _ = TriNetTask.build_model_from_file(like / "config.yaml", None, "cpu")
    else:
        model, _ = TriNetTask.build_model_from_file(ssl_dir / "config.yaml", ssl_dir / SSL_INIT, "cpu")
    return model.eval()


@torch.no_grad()
def encoder_taps(model, audio: np.ndarray) -> Dict[str, np.ndarray]:
    """{"mid": (T, D) block N-1, "high": (T, D) block N after the final norm} of one utterance,
    without masking (the student as fine-tuning will see it)."""
    from espnet_trinet.encoders.layerwise import embed_frames, final_norm, run_blocks

    speech = torch.from_numpy(audio)[None]
    feats, lengths = model.frontend(speech, torch.tensor([speech.size(1)]))
    if model.normalize is not None:
        feats, lengths = model.normalize(feats, lengths)
    x, pos_emb, masks = embed_frames(model.encoder, feats, lengths)
    blocks = run_blocks(model.encoder.encoders, x, pos_emb, masks)
    return {"mid": blocks[-2][0].numpy(), "high": final_norm(model.encoder, blocks[-1])[0].numpy()}


def labelled_frames(model, utts, labels: Dict[str, np.ndarray], classes: Sequence[int]):
    """Frames of ``classes``: {level: (N, D)}, (N,) labels, (N,) utterance index; and every frame
    of the aligned utterances, {level: (M, D)}."""
    keep = set(classes)
    feats: Dict[str, list] = {level: [] for level in LEVELS}
    every: Dict[str, list] = {level: [] for level in LEVELS}
    ys, groups = [], []
    for index, (utt, audio, _) in enumerate(utts):
        if utt not in labels:
            continue
        taps = encoder_taps(model, audio)
        lab = labels[utt]
        frames = min(len(lab), len(taps["mid"]))
        if abs(len(lab) - len(taps["mid"])) > 2:
            raise ValueError(f"{utt}: the aligner has {len(lab)} frames, the encoder {len(taps['mid'])}: "
                             "their frontends or subsampling differ")
        chosen = [t for t in range(frames) if lab[t] in keep]
        for level in LEVELS:
            feats[level].append(taps[level][chosen])
            every[level].append(taps[level])
        ys += [int(lab[t]) for t in chosen]
        groups += [index] * len(chosen)
    return _concatenated(feats), np.array(ys), np.array(groups), _concatenated(every)


def _concatenated(per_level: Dict[str, list]) -> Dict[str, np.ndarray]:
    """{level: [(n_i, D), ...]} -> {level: (sum n_i, D)}."""
    return {level: np.concatenate(parts) for level, parts in per_level.items()}


def frames_effective_rank(x: np.ndarray) -> float:
    """The training monitor's effective rank (monitor/collapse.py) of (N, D) frames, all of them."""
    from espnet_trinet.monitor.collapse import effective_rank

    return float(effective_rank(torch.from_numpy(x), max_frames=len(x)))


def metric_table(values: Dict[str, Dict[str, Dict[str, float]]], seeds: Sequence[int], digits: int) -> List[str]:
    """{model: {level: {seed: value}}} -> a markdown table, mean and per seed for each level."""
    seed_head = " / ".join(f"seed {s}" for s in seeds)
    lines = [f"| model | mid level (block N-1) mean | high level (block N) mean | mid {seed_head} | high {seed_head} |",
             "|---|---|---|---|---|"]
    for model, by_level in values.items():
        means = {lv: f"{np.mean(list(v.values())):.{digits}f}" for lv, v in by_level.items()}
        per = {lv: " / ".join(f"{v[str(s)]:.{digits}f}" if str(s) in v else "-" for s in seeds)
               for lv, v in by_level.items()}
        lines.append(f"| {NAMES[model]} | {means['mid']} | {means['high']} | {per['mid']} | {per['high']} |")
    return lines


def knn_accuracy(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """Grouped cross-validated accuracy of a standardised 5-NN classifier."""
    from sklearn.model_selection import GroupKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=KNN_K))
    return float(cross_val_score(clf, x, y, groups=groups, cv=GroupKFold(n_splits=FOLDS)).mean())


def embed_2d(x: np.ndarray, seed: int = 0) -> np.ndarray:
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    return TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(
        StandardScaler().fit_transform(x))


def grid_position(index: int, level: str) -> Tuple[int, int]:
    """(row, column) of the ``index``-th model's panel of ``level`` in the picture's grid."""
    return index // MODELS_PER_ROW, (index % MODELS_PER_ROW) * len(LEVELS) + list(LEVELS).index(level)


def grid_shape(num_models: int) -> Tuple[int, int]:
    """(rows, columns) of the picture's grid for ``num_models`` models (each with every level)."""
    return math.ceil(num_models / MODELS_PER_ROW), min(num_models, MODELS_PER_ROW) * len(LEVELS)


def plot(panels, classes: Sequence[int], token_names: Dict[int, str], output: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(m for m, _ in panels))
    rows, cols = grid_shape(len(models))
    fig, axes = plt.subplots(rows, cols, figsize=(2.5 * cols, 2.75 * rows + 0.7), dpi=80, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")  # the panels a model fills are switched back on
    cmap = plt.get_cmap("tab10")
    for index, model in enumerate(models):
        name = "\n".join(textwrap.wrap(NAMES[model], 30))
        for level in LEVELS:
            row, col = grid_position(index, level)
            ax = axes[row][col]
            ax.axis("on")
            xy, y, acc = panels[(model, level)]
            for i, c in enumerate(classes):
                sel = y == c
                ax.scatter(xy[sel, 0], xy[sel, 1], s=2, color=cmap(i), label=token_names[c], rasterized=True)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{name}\n{LEVELS[level]}\n5-NN acc {acc:.2f}", fontsize=7)
    handles = [plt.Line2D([], [], marker="o", ls="", color=cmap(i), label=token_names[c])
               for i, c in enumerate(classes)]
    fig.legend(handles=handles, loc="lower center", ncol=len(classes), fontsize=8, frameon=False)
    fig.suptitle(f"t-SNE of test-set frames, coloured by force-aligned character (seed {seed})", fontsize=9)
    fig.tight_layout(rect=(0, 0.5 / fig.get_figheight(), 1, 1 - 0.35 / fig.get_figheight()))
    fig.savefig(output, dpi=80)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/trinet_compare"), help="quality.py's work dir")
    parser.add_argument("--corpus", default="main", help="the quality benchmark's corpus (main or large)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(DEFAULT_MODELS), metavar="MODEL",
                        help="models of bench/methods.py's table (those without pretraining are left out)")
    parser.add_argument("--aligner", default=SCRATCH, choices=list(MODELS) + ["best"],
                        help="fine-tuned model whose CTC alignment labels the frames (best: lowest test CER of all)")
    parser.add_argument("--output", type=Path, help="path without suffix",
                        default=Path(__file__).resolve().parent / "results" / "representation_map")
    args = parser.parse_args(argv)
    command = "python bench/representation_map.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cwd = os.getcwd()
    try:
        return run(args, command)
    finally:
        os.chdir(cwd)  # run() works in the seeds' recipe folders


def run(args: argparse.Namespace, command: str) -> int:
    work_dir = args.work_dir.resolve()  # the working dir changes below
    layout = Layout(work_dir, args.corpus)
    selected = [k for k in args.models if k in SSL_MODELS]
    if not selected:
        print(f"--models {args.models}: none has a pretrained encoder", file=sys.stderr)
        return 1
    output = args.output.resolve()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    aligner, aligner_cer, aligner_seed = best_asr_model(
        layout, args.seeds, MODELS if args.aligner == "best" else [args.aligner])
    # Paths in the experiments' configs are relative to the recipe folder of their seed.
    os.chdir(layout.seed(aligner_seed))
    utts = read_set(layout.seed(aligner_seed), SYNTH_TEST)
    labels, token_list = align_set(aligner, utts)
    token_names = dict(enumerate(token_list))
    excluded = [i for i, t in token_names.items() if t.startswith("<")]  # <space>, <unk>, ...
    classes = most_frequent(list(labels.values()), NUM_CLASSES, exclude=excluded)
    print(f"aligned {len(labels)}/{len(utts)} test utterances with {aligner} (test CER {aligner_cer:.1f} %); "
          f"classes {[token_names[c] for c in classes]}", flush=True)

    accuracy: Dict[str, Dict[str, Dict[str, float]]] = {}
    ranks: Dict[str, Dict[str, Dict[str, float]]] = {}
    panels = {}
    frames = chance = picture_seed = None
    for seed in args.seeds:
        os.chdir(layout.seed(seed))
        # The untrained floor: the architecture of the first selected SSL model this seed has.
        like = next((layout.ssl_dir(seed, m) for m in selected
                     if (layout.ssl_dir(seed, m) / "config.yaml").exists()), None)
        if like is None:
            print(f"seed {seed}: no pretrained model of {selected} under {layout.seed(seed)}; left out",
                  file=sys.stderr)
            continue
        picture_seed = seed if picture_seed is None else picture_seed
        for model in [UNTRAINED] + selected:
            ssl = None if model == UNTRAINED else layout.ssl_dir(seed, model)
            if ssl is not None and not (ssl / SSL_INIT).exists():
                print(f"seed {seed}: {NAMES[model]} has no {ssl / SSL_INIT}; left out", file=sys.stderr)
                continue
            encoder = load_encoder(ssl, like, seed)
            feats, y, groups, every = labelled_frames(encoder, utts, labels, classes)
            frames = len(y)
            chance = float(np.bincount(y).max() / len(y))
            for level in LEVELS:
                acc = knn_accuracy(feats[level], y, groups)
                accuracy.setdefault(model, {}).setdefault(level, {})[str(seed)] = acc
                rank = frames_effective_rank(every[level])
                ranks.setdefault(model, {}).setdefault(level, {})[str(seed)] = rank
                print(f"seed {seed} {NAMES[model]} {level}: 5-NN accuracy {acc:.3f}, effective rank {rank:.1f} "
                      f"of {len(every[level])} frames", flush=True)
                if seed == picture_seed:
                    rng = np.random.default_rng(0)
                    pick = np.sort(rng.permutation(len(y))[:MAX_TSNE_FRAMES])
                    panels[(model, level)] = (embed_2d(feats[level][pick]), y[pick], acc)

    if picture_seed is None:
        print(f"no pretrained model of {selected} in seeds {args.seeds}: run bench/quality.py first", file=sys.stderr)
        return 1
    output.parent.mkdir(parents=True, exist_ok=True)
    plot(panels, classes, token_names, output.with_suffix(".png"), picture_seed)
    lines = [f"Command: `{command}`", "",
             f"Corpus: {args.corpus}. Frame classes: CTC forced alignment with "
             f"`{os.path.relpath(aligner, work_dir)}` (test CER {aligner_cer:.1f} %); {frames} frames of the "
             f"{len(classes)} most frequent letters ({', '.join(token_names[c] for c in classes)}) in {len(labels)} "
             f"test utterances; majority-class share {chance:.3f}.", "",
             f"5-NN accuracy of the letter frames, {FOLDS}-fold cross-validation grouped by utterance:", ""]
    lines += metric_table(accuracy, args.seeds, 3)
    lines += ["", "Effective rank (as the training monitor computes it) of all frames of the aligned test utterances, "
              "the same two taps for every model:", ""]
    lines += metric_table(ranks, args.seeds, 1)
    text = "\n".join(lines) + "\n"
    output.with_suffix(".md").write_text(text)
    output.with_suffix(".json").write_text(json.dumps(dict(
        command=command, corpus=args.corpus, models=[m for m in accuracy if m != UNTRAINED], aligner=str(aligner),
        aligner_test_cer=aligner_cer, frames=frames, chance=chance, classes=[token_names[c] for c in classes],
        knn_k=KNN_K, folds=FOLDS, accuracy=accuracy, effective_rank=ranks), indent=1) + "\n")
    print(text)
    print(f"wrote {output}.png, .md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
