"""Helpers of the benchmark tests: pretraining experiments as the recipe's trinet_train leaves them."""

import contextlib
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from trinet_testing import REPO, namespace_from_config

sys.path.insert(0, str(REPO / "bench"))
from methods import method_config, method_info  # noqa: E402

# The recipe's paths (trinet.sh's train_ssl and prepare_sources), relative to its folder.
STATS_FILE = "exp/ssl_stats_16000/train/feats_stats.npz"
FROZEN_OUTPUT_DIM = 31  # what a dump's targets_info.yaml would give the frozen-teacher source


def write_feats_stats(recipe: Path, dim: int = 80) -> Path:
    """Global-MVN statistics where the recipe's stage 6 writes them (ESPnet's feats_stats.npz)."""
    path = Path(recipe) / STATS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 1000
    np.savez(path, count=np.array(count), sum=np.full(dim, -5.0 * count), sum_square=np.full(dim, 30.0 * count))
    return path


def recipe_data_args(method: str, sets=("train", "dev")) -> dict:
    """The data entries and list options trinet.sh gives a method's pretraining (paths relative to
    the recipe folder, as it writes them): the audio, the dumped frozen targets, the k-means labels
    and an augmented view's noise and impulse-response lists. None of these files exists here: a
    trained model must be rebuilt without them."""
    info = method_info(method)
    entries = {}
    for split, dset in zip(("train", "valid"), sets):
        data = [[f"dump/raw/{dset}/wav.scp", "speech", "sound"]]
        for source in info.get("method_frozen_sources", "").split():
            data.append([f"dump/frozen_targets_ctc_asr_data2vec/{dset}/targets.scp",
                         info[f"method_frozen_{source}_data_key"], "kaldi_ark"])
        for source in info.get("method_label_sources", "").split():
            clusters = info[f"method_labels_{source}_num_classes"]
            data.append([f"dump/kmeans_mfcc_k{clusters}/{dset}/labels.scp", info[f"method_labels_{source}_data_key"],
                         "kaldi_ark"])
        entries[f"{split}_data_path_and_name_and_type"] = data
    return dict(entries, needs_rir=info["method_needs_rir"] == "true", needs_noise=info["method_needs_noise"] == "true")


def fake_ssl_experiment(out: Path, method: str, recipe: Path, seed: int = 7) -> torch.nn.Module:
    """config.yaml and valid.loss.ave.pth of a method's pretraining in ``out``, as trinet_train
    leaves them when the recipe in ``recipe`` runs it: the method's tiny config
    with the recipe's global-MVN statistics, the resolved target sources (an offline frozen
    teacher's output_dim as its dump gives it), and the recipe's data entries and augmentation
    lists; the weights untrained (seeded)."""
    from espnet_trinet.tasks.trinet import TriNetTask

    if not (Path(recipe) / STATS_FILE).exists():
        write_feats_stats(recipe)
    args = namespace_from_config(method_config(method), normalize_conf=dict(stats_file=STATS_FILE))
    args.target_conf = {spec["name"]: dict(output_dim=FROZEN_OUTPUT_DIM)
                        for spec in args.targets if spec["type"] == "frozen_asr"}
    torch.manual_seed(seed)
    with contextlib.chdir(recipe):  # the statistics' path is the recipe's, relative to its folder
        model = TriNetTask.build_model(args)  # resolves the target and objective specs into args
    data = recipe_data_args(method)
    args.train_data_path_and_name_and_type = data["train_data_path_and_name_and_type"]
    args.valid_data_path_and_name_and_type = data["valid_data_path_and_name_and_type"]
    augmentation = (args.view_conf or {}).get("augmentation") or {}
    if data["needs_rir"]:
        augmentation["reverb"]["rir_scp"] = "dump/augmentation_16000/rir.scp"
    if data["needs_noise"]:
        augmentation["background_noise"]["noise_scp"] = "dump/augmentation_16000/noise.scp"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), out / "valid.loss.ave.pth")
    return model
