"""The training steps the throughput benchmark compares, built at one encoder size.

Each variant is (model, optimizer, batch): one call of ``train_step`` is forward +
backward + optimizer step, and for our task the EMA teacher update, which runs in the
optimizer's step-post hook exactly as in training.

- ``espnet_hubert``: ESPnet's own SSL task (espnet2.tasks.ssl) with its HuBERT loss,
  the peer users have today (the external reference). Its model masks before the encoder,
  so its conformer has no subsampling; a wav2vec CNN frontend with one extra stride-2 layer
  (640 samples, 40 ms) gives it the same frame rate as ours (fbank 10 ms + 4x conv2d).
- one variant per pretraining method timed (``methods.TIMED_METHODS``, each the
  mini_synth config ``conf/pretrain_<method>_tiny.yaml`` at this encoder size): ``<method>``
  for a method without a frozen-teacher target (data2vec; MT4SSL, whose k-means labels come
  with the batch as from the recipe's label dump; DinoSR), and for a method with one (TriNet)
  ``<method>_online`` (the frozen ASR teacher run in every step) and ``<method>_offline``
  (precomputed targets read from the batch, as from the offline dump); a method whose student
  makes M masked clones (data2vec 2.0's view) also at M = 1 and 8: ``<variant>_m<M>``.

The baseline of the ratios is the first method without a frozen teacher (the recipe's
default teacher method).
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods import RECIPE, TIMED_METHODS, method_config, method_info  # noqa: E402

TINY_CONF = RECIPE / "conf"
HUBERT = "espnet_hubert"
FROZEN_MODES = ("online", "offline")
NUM_TOKENS = 32  # the frozen teacher's CTC vocabulary (letters + specials)
HUBERT_CLASSES = 500  # k-means units, as in HuBERT's second iteration


# Clone counts timed besides the config's, for a method whose student view makes clones
# (data2vec 2.0's multi-mask): M = 1 (the visible-only student alone) and 8 (data2vec 2.0 base).
CLONE_COUNTS = (1, 8)


def method_variants(method: str) -> List[str]:
    """The variants of one method: itself, or one per frozen-teacher mode; for a student view with
    clones also ``<variant>_m<M>`` (the offline one, for a method with a frozen teacher)."""
    if method_info(method)["method_needs_teacher"] == "true":
        names = [f"{method}_{mode}" for mode in FROZEN_MODES]
    else:
        names = [method]
    view_conf = yaml.safe_load(method_config(method).read_text()).get("view_conf") or {}
    if "clones" in view_conf:
        names += [f"{names[-1]}_m{m}" for m in CLONE_COUNTS if m != view_conf["clones"]]
    return names


def split_clones(name: str) -> Tuple[str, Optional[int]]:
    """``<variant>_m<M>`` -> (variant, M): the method's student view with M masked clones of
    each utterance (data2vec 2.0's multi-mask); other names -> (name, None), the config's."""
    match = re.fullmatch(r"(.+)_m(\d+)", name)
    return (match.group(1), int(match.group(2))) if match else (name, None)


def variant_spec(name: str) -> Tuple[str, Optional[str]]:
    """(method, frozen mode or None) of a variant name (not ``espnet_hubert``)."""
    name = split_clones(name)[0]
    for method in dict.fromkeys([name, name.rsplit("_", 1)[0]]):
        try:
            method_config(method)
        except FileNotFoundError:
            continue
        if name in method_variants(method):
            return method, (None if name == method else name.rsplit("_", 1)[1])
    raise ValueError(f"unknown variant {name}; choose from {variants()} or <method>[_online|_offline] of a "
                     f"config {TINY_CONF}/pretrain_<method>_tiny.yaml")


def variants(methods: Sequence[str] = TIMED_METHODS) -> Tuple[str, ...]:
    """HuBERT, then the variants of each method."""
    return (HUBERT,) + tuple(v for m in methods for v in method_variants(m))


def baseline(names: Sequence[str]) -> str:
    """The variant the others are compared with: the first of a method without a frozen teacher."""
    for name in names:
        if name != HUBERT and variant_spec(name)[1] is None:
            return name
    raise ValueError(f"{list(names)}: no variant of a method without a frozen teacher to compare with")


VARIANTS = variants()


@dataclass
class EncoderSize:
    """A conformer size; ``name`` labels the table rows."""

    name: str
    output_size: int
    attention_heads: int
    linear_units: int
    num_blocks: int
    cnn_module_kernel: int

    def conformer_conf(self, input_layer: str = "conv2d") -> Dict:
        return dict(
            output_size=self.output_size,
            attention_heads=self.attention_heads,
            linear_units=self.linear_units,
            num_blocks=self.num_blocks,
            dropout_rate=0.1,
            positional_dropout_rate=0.1,
            attention_dropout_rate=0.1,
            input_layer=input_layer,
            normalize_before=True,
            macaron_style=True,
            rel_pos_type="latest",
            pos_enc_layer_type="rel_pos",
            selfattention_layer_type="rel_selfattn",
            activation_type="swish",
            use_cnn_module=True,
            cnn_module_kernel=self.cnn_module_kernel,
        )


SIZES = {
    "tiny": EncoderSize("tiny d96x4", 96, 4, 256, 4, 15),
    "small": EncoderSize("small d256x6", 256, 4, 1024, 6, 15),
    # The paper's base width (d 768, 16 heads, FFN 3072, kernel 31) with fewer blocks.
    "base4": EncoderSize("base-width d768x4", 768, 16, 3072, 4, 31),
    "base": EncoderSize("base d768x12", 768, 16, 3072, 12, 31),
}


@dataclass
class StepVariant:
    name: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    batch: Dict[str, torch.Tensor]
    trainable_params: int
    # Masked frames the student predicted in each step so far (over all clones; our task only).
    masked_per_step: Optional[List[int]] = None

    def train_step(self) -> float:
        """One update; returns the loss."""
        self.optimizer.zero_grad(set_to_none=True)
        loss, _, _ = self.model(**self.batch)
        loss.backward()
        self.optimizer.step()  # our task's EMA update runs in the step-post hook
        return float(loss.detach())


def _parse(task, config: Dict, tmp: Path, name: str):
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return task.get_parser().parse_args(["--config", str(path)])


def _method_args(size: EncoderSize, method: str, target_conf: Dict, tmp: Path, name: str):
    """The method's tiny config at this encoder size, with ``target_conf`` overrides by target name
    (and, for a ``_m<M>`` variant, M clones in its student view)."""
    from espnet_trinet.encoders.layerwise import parse_block
    from espnet_trinet.tasks.trinet import TriNetTask

    config = yaml.safe_load(method_config(method).read_text())
    config.update(normalize="utterance_mvn", normalize_conf={}, encoder_conf=size.conformer_conf())
    clones = split_clones(name)[1]
    if clones is not None:
        if "clones" not in (config.get("view_conf") or {}):
            raise ValueError(f"variant {name}: the student view of {method} ({config.get('view')}) has no clones")
        config["view_conf"]["clones"] = clones
    for spec in config.get("objectives", []):
        if spec["type"] == "conv_decoder":
            # data2vec 2.0's decoder width relative to the encoder's: 384 of 768.
            spec["conf"]["dim"] = size.output_size // 2
    config["model_conf"].pop("collapse_guard", None)  # random audio: the guard is not under test
    args = _parse(TriNetTask, config, tmp, name)
    overrides = {}
    for spec in config.get("targets", []):
        if spec["type"] in ("ema_layers", "online_codebooks"):  # EMA teachers of the top-K blocks
            # Targets: the top 2/3 of the blocks, as the paper's 8 of 12 (below the config's top block).
            last = parse_block((spec.get("conf") or {}).get("last_block", "N"), size.num_blocks) + 1
            overrides[spec["name"]] = dict(top_k=min(last, max(1, (2 * size.num_blocks) // 3)))
    for source, conf in target_conf.items():
        overrides.setdefault(source, {}).update(conf)
    args.target_conf = overrides
    return args


def _frozen_teacher(size: EncoderSize, tmp: Path) -> Path:
    """A randomly initialised CTC model with the student's encoder, saved like an ESPnet experiment."""
    from espnet2.tasks.asr import ASRTask

    tokens = tmp / "tokens.txt"
    tokens.write_text("\n".join(["<blank>", "<unk>", *[chr(65 + i) for i in range(NUM_TOKENS - 3)], "<sos/eos>"]))
    config = yaml.safe_load((TINY_CONF / "finetune_ctc_tiny.yaml").read_text())
    config.update(normalize="utterance_mvn", normalize_conf={}, encoder_conf=size.conformer_conf(),
                  token_list=str(tokens), token_type="char", specaug=None, specaug_conf={})
    args = _parse(ASRTask, config, tmp, "teacher")
    model = ASRTask.build_model(args)
    (tmp / "teacher").mkdir(exist_ok=True)
    with open(tmp / "teacher" / "config.yaml", "w") as f:
        yaml.safe_dump(vars(args), f)
    model_file = tmp / "teacher" / "model.pth"
    torch.save(model.state_dict(), model_file)
    return model_file


def _hubert_args(size: EncoderSize, tmp: Path):
    from espnet2.tasks.ssl import SSLTask

    tokens = tmp / "units.txt"
    tokens.write_text("\n".join(str(i) for i in range(HUBERT_CLASSES)))
    config = dict(
        frontend="wav2vec_cnn",
        frontend_conf=dict(
            norm_mode="group_norm",
            conv_mode="standard",
            bias=False,
            # wav2vec 2.0's 320-sample stride and one more stride-2 layer: 640 samples = 40 ms.
            shapes=[[512, 10, 5], [512, 3, 2], [512, 3, 2], [512, 3, 2], [512, 3, 2], [512, 2, 2], [512, 2, 2],
                    [512, 2, 2]],
        ),
        normalize=None,
        preencoder="linear",
        preencoder_conf=dict(input_size=512, output_size=size.output_size),
        encoder="conformer",
        encoder_conf=size.conformer_conf(input_layer=None),
        loss=[dict(name="hubert", conf=dict(num_classes=HUBERT_CLASSES, final_dim=256))],
        util=[dict(name="mask", conf=dict(mask_prob=0.65, mask_length=5))],
        token_list=str(tokens),
        token_type="word",
        optim="adamw",
        optim_conf=dict(lr=1e-4),
    )
    return SSLTask, _parse(SSLTask, config, tmp, "hubert")


def build_variant(name: str, size: EncoderSize, speech: torch.Tensor, lengths: torch.Tensor,
                  device: torch.device, tmp: Path) -> StepVariant:
    """Builds one variant on ``device`` with its batch (the same audio for all).

    Args:
        speech: (B, S) float audio at 16 kHz; lengths: (B,).
    """
    from espnet_trinet.tasks.trinet import TriNetTask

    torch.manual_seed(0)
    batch = dict(speech=speech.to(device), speech_lengths=lengths.to(device))
    if name == HUBERT:
        task, args = _hubert_args(size, tmp)
        model = task.build_model(args).to(device)
        # HuBERT's targets: one k-means unit per frame of the CNN frontend (40 ms).
        with torch.no_grad():
            _, frames = model.frontend(batch["speech"], batch["speech_lengths"])
        text = torch.randint(0, HUBERT_CLASSES, (len(lengths), int(frames.max())),
                             generator=torch.Generator().manual_seed(0))
        batch.update(text=text.to(device), text_lengths=frames.to(device))
    else:
        method, mode = variant_spec(name)
        task = TriNetTask
        if mode is None:
            args = _method_args(size, method, {}, tmp, name)
            model = task.build_model(args).to(device)
            batch.update(_kmeans_labels(method, model, lengths, device))
            batch.update(_augmented_copy(model, batch))
        else:
            teacher = tmp / "teacher" / "model.pth"
            if not teacher.exists():
                teacher = _frozen_teacher(size, tmp)
            sources = method_info(method)["method_frozen_sources"].split()
            online = {source: dict(mode="online", asr_model_file=str(teacher)) for source in sources}
            args = _method_args(size, method, online, tmp, name)
            model = task.build_model(args).to(device)
            if mode == "offline":
                # The same targets the dump would store, computed once here and fed as data
                # (as ESPnet's loader gives them: float).
                offline = {}
                with torch.no_grad():
                    for source in sources:
                        frozen = model.targets[source]
                        targets, target_lengths = frozen.teacher_targets(batch["speech"], batch["speech_lengths"])
                        key = method_info(method)[f"method_frozen_{source}_data_key"]
                        batch.update({key: targets.float(), f"{key}_lengths": target_lengths})
                        offline[source] = dict(mode="offline", output_dim=int(frozen.output_dim))
                torch.manual_seed(0)
                args = _method_args(size, method, offline, tmp, name)
                model = task.build_model(args).to(device)
    model.train()
    optimizer = task.build_optimizers(args, model)[0]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    variant = StepVariant(name, model, optimizer, batch, trainable)
    if name != HUBERT:
        variant.masked_per_step = []
        model.view.register_forward_hook(lambda _m, _i, view: variant.masked_per_step.append(int(view.masked.sum())))
    return variant


def _kmeans_labels(method: str, model: torch.nn.Module, lengths: torch.Tensor,
                   device: torch.device) -> Dict[str, torch.Tensor]:
    """Random ids at the student's frames for each k-means label target of the method (MT4SSL), as
    the recipe's labels come with the audio: the step cost does not depend on which ids they are."""
    from espnet_trinet.encoders.layerwise import count_frames

    info = method_info(method)
    data = {}
    for source in info["method_label_sources"].split():
        classes = int(info[f"method_labels_{source}_num_classes"])
        frames = torch.tensor(count_frames(model.frontend, model.encoder, lengths.tolist()))
        ids = torch.randint(0, classes, (len(lengths), int(frames.max())), generator=torch.Generator().manual_seed(0))
        key = info[f"method_labels_{source}_data_key"]
        data.update({key: ids.float().to(device), f"{key}_lengths": frames.to(device)})
    return data


def _augmented_copy(model: torch.nn.Module, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The augmented copy a view on one reads (data2vec-aqc), as the data loader gives it: the step
    cost does not depend on what the copy holds (its making, in the loader, is timed apart:
    ``augmentation_cost``)."""
    from espnet_trinet.augmentation.augmented_copy import AUGMENTED_KEY
    from espnet_trinet.views.augmented_span_mask import AugmentedSpanMaskView

    if not isinstance(model.view, AugmentedSpanMaskView):
        return {}
    speech = batch["speech"]
    noisy = speech + 0.1 * speech.std() * torch.randn(speech.shape, generator=torch.Generator().manual_seed(1)).to(speech)
    return {AUGMENTED_KEY: noisy, f"{AUGMENTED_KEY}_lengths": batch["speech_lengths"].clone()}


def augmentation_cost(method: str, speech: torch.Tensor, lengths: torch.Tensor, tmp: Path,
                      repeats: int = 5) -> Optional[float]:
    """CPU milliseconds per second of audio of the method's augmented copy (its view's data-loader
    work: white noise, an impulse response, a background noise at the config's probabilities, from a
    generated corpus of 8 noises of 10 s and 8 impulse responses), or None for a view without one."""
    import time

    import numpy as np

    from espnet_trinet.augmentation.generated_corpus import write_augmentation_corpus
    from espnet_trinet.augmentation.student_augmentation import StudentAugmentation

    view_conf = yaml.safe_load(method_config(method).read_text()).get("view_conf") or {}
    conf = view_conf.get("augmentation")
    if conf is None:
        return None
    noise_scp, rir_scp = write_augmentation_corpus(tmp / "augmentation", num_noises=8, num_rirs=8)
    conf = yaml.safe_load(yaml.safe_dump(conf))
    for part, key, scp in (("reverb", "rir_scp", rir_scp), ("background_noise", "noise_scp", noise_scp)):
        if conf.get(part) is not None:
            conf[part][key] = str(scp)
    augmentation = StudentAugmentation(**conf)
    waves = [speech[i, : int(n)].numpy() for i, n in enumerate(lengths)]
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(repeats):
        for wave in waves:
            augmentation(wave, rng)
    return 1000 * (time.perf_counter() - start) / (repeats * float(lengths.sum()) / 16000)


def make_audio(batch_size: int, seconds: float, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, S) noise-modulated chirps and (B,) lengths: step cost does not depend on content."""
    g = torch.Generator().manual_seed(seed)
    n = int(seconds * 16000)
    t = torch.arange(n) / 16000
    waves = []
    for b in range(batch_size):
        f0 = 100 + 50 * b
        chirp = torch.sin(2 * torch.pi * (f0 + 200 * t) * t)
        waves.append(0.3 * chirp + 0.05 * torch.randn(n, generator=g))
    speech = torch.stack(waves)
    return speech, torch.full((batch_size,), n, dtype=torch.long)
