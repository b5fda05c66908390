"""Helpers for the tests: tiny audio data dirs, a tiny ESPnet ASR teacher, train arguments."""

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
MINI_CONF = REPO / "egs2" / "mini_synth" / "trinet1" / "conf"
TOKENS = ["<blank>", "<unk>", "<space>"] + list("ABCDEFGHIJKLMNOPQRSTUVWXYZ'") + ["<sos/eos>"]


def write_audio_dir(path: Path, num_utts: int, seed: int, min_sec=1.0, max_sec=2.0, fs=16000) -> Path:
    """A data dir of chirps + noise: wav.scp, speech_shape, utt2num_samples, text."""
    rng = np.random.default_rng(seed)
    (path / "wav").mkdir(parents=True, exist_ok=True)
    with open(path / "wav.scp", "w") as wav_scp, open(path / "speech_shape", "w") as shape, open(
        path / "utt2num_samples", "w"
    ) as nsamp, open(path / "text", "w") as text:
        for i in range(num_utts):
            n = int(rng.uniform(min_sec, max_sec) * fs)
            t = np.arange(n) / fs
            f0 = rng.uniform(100, 300)
            wave = 0.3 * np.sin(2 * np.pi * f0 * t * (1 + rng.uniform(0.2, 1.0) * t))
            wave += 0.05 * rng.standard_normal(n)
            utt = f"utt{i:03d}"
            sf.write(path / "wav" / f"{utt}.wav", wave.astype(np.float32), fs, subtype="PCM_16")
            wav_scp.write(f"{utt} {path / 'wav' / f'{utt}.wav'}\n")
            shape.write(f"{utt} {n}\n")
            nsamp.write(f"{utt} {n}\n")
            text.write(f"{utt} HELLO WORLD\n")
    return path


def build_asr_experiment(out_dir: Path, extra_args=()) -> Path:
    """A randomly initialised CTC conformer saved like an ESPnet ASR experiment.

    Stands in for the CTC fine-tuned data2vec model (the frozen teacher); returns
    the model file, next to which lies config.yaml.
    """
    from espnet2.tasks.asr import ASRTask

    out_dir.mkdir(parents=True, exist_ok=True)
    token_list = out_dir / "tokens.txt"
    token_list.write_text("\n".join(TOKENS) + "\n")
    parser = ASRTask.get_parser()
    args = parser.parse_args(
        [
            "--config", str(MINI_CONF / "finetune_ctc_tiny.yaml"),
            "--token_list", str(token_list),
            "--token_type", "char",
            "--normalize", "utterance_mvn",
            "--output_dir", str(out_dir),
            *extra_args,
        ]
    )
    torch.manual_seed(123)
    model = ASRTask.build_model(args)
    with open(out_dir / "config.yaml", "w") as f:
        yaml.safe_dump(vars(args), f)
    model_file = out_dir / "valid.loss.best.pth"
    torch.save(model.state_dict(), model_file)
    return model_file


def train_args(conf: Path, out_dir: Path, train_dir: Path, valid_dir: Path, *extra) -> list:
    """Command-line arguments for trinet_train on the tiny audio dirs."""
    return [
        "--config", str(conf),
        "--normalize", "utterance_mvn",
        "--output_dir", str(out_dir),
        "--train_data_path_and_name_and_type", f"{train_dir}/wav.scp,speech,sound",
        "--train_shape_file", f"{train_dir}/speech_shape",
        "--valid_data_path_and_name_and_type", f"{valid_dir}/wav.scp,speech,sound",
        "--valid_shape_file", f"{valid_dir}/speech_shape",
        "--batch_bins", "100000",
        "--ngpu", "0",
        "--num_workers", "0",
        *map(str, extra),
    ]


def namespace_from_config(conf: Path, **overrides) -> argparse.Namespace:
    """A TriNetTask args namespace from a YAML config plus overrides (no training)."""
    from espnet_trinet.tasks.trinet import TriNetTask

    args = TriNetTask.get_parser().parse_args(["--config", str(conf)])
    for key, value in overrides.items():
        setattr(args, key, value)
    return args


def load_batch(data_dir: Path, num_utts: int = 4):
    """Padded (B, S) float32 audio and (B,) lengths of the first utterances of a dir."""
    waves = []
    with open(data_dir / "wav.scp") as f:
        for line in list(f)[:num_utts]:
            wave, _ = sf.read(line.split()[1], dtype="float32")
            waves.append(torch.from_numpy(wave))
    lengths = torch.tensor([w.numel() for w in waves])
    return torch.nn.utils.rnn.pad_sequence(waves, batch_first=True), lengths


def epoch_stats(exp_dir: Path, mode: str = "train"):
    """{epoch: {stat: value}} from an ESPnet experiment's checkpoint.pth (the reporter's state)."""
    states = torch.load(exp_dir / "checkpoint.pth", map_location="cpu", weights_only=False)
    stats = states["reporter"]["stats"]
    return {epoch: dict(values[mode]) for epoch, values in sorted(stats.items()) if mode in values}


def make_kmeans_labels(audio_dirs, student_config: Path, out: Path, num_clusters: int = 8) -> list:
    """MFCC k-means labels of the tiny audio dirs, as the recipe makes them (learn on the first dir,
    dump every dir); returns the trinet_train options that read them (data key ``labels``)."""
    from espnet_trinet.bin.kmeans_labels import main as kmeans_main

    kmeans_dir = out / "kmeans"
    assert kmeans_main(["learn", "--data_dir", str(audio_dirs[0]), "--student_config", str(student_config),
                        "--features", "mfcc", "--num_clusters", str(num_clusters), "--output_dir", str(kmeans_dir),
                        "--show_progress", "false"]) == 0
    options = []
    for split, data_dir in zip(("train", "valid"), audio_dirs):
        assert kmeans_main(["dump", "--data_dir", str(data_dir), "--kmeans_dir", str(kmeans_dir),
                            "--output_dir", str(out / split), "--show_progress", "false"]) == 0
        options += [f"--{split}_data_path_and_name_and_type", f"{out / split}/labels.scp,labels,kaldi_ark"]
    return options
