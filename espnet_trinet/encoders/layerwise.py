"""Run an ESPnet encoder one stage at a time, so the student can be masked between
the subsampling front (``encoder.embed``) and the blocks (``encoder.encoders``).

ESPnet's ``ConformerEncoder.forward`` masks nothing and, with ``return_all_hs``,
returns every block only when no intermediate CTC is configured; the student needs the
masked input *after* the 4x conv2d subsampling (the reference code's frame rate) and
every block output, so the loop is written here once for conformer, transformer and
E-Branchformer encoders (all three expose ``embed``, ``encoders`` and ``after_norm``).
Because the loop replaces the encoder's own, it also honours the encoder's
``layer_drop_rate`` (ESPnet applies it in ``MultiSequential`` or in the encoder's loop).
"""

from typing import List, Optional, Sequence, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError, check_short_utt

# What a block's ``feed_forward`` (the second FFN of a macaron block) returns is the
# reference code's ``layer_results`` entry: the FFN output before the x0.5 scale, the
# residual and the block's final LayerNorm (fairseq ``conformer_layer.py``, ``wav2vec2.py``).
BLOCK_FEATURES = ("block", "ffn")


def check_layerwise_encoder(encoder: torch.nn.Module) -> None:
    """Fail early, naming the encoder, if it lacks the parts the student needs."""
    missing = [a for a in ("embed", "encoders", "after_norm") if not hasattr(encoder, a)]
    if missing:
        raise TypeError(
            f"{type(encoder).__name__} has no {', '.join(missing)}: the SSL model needs an ESPnet "
            "encoder with embed/encoders/after_norm (conformer, transformer, e_branchformer)"
        )


def layer_drop_rate(encoder: torch.nn.Module) -> float:
    """The encoder's ``layer_drop_rate`` (encoder_conf), wherever this ESPnet encoder keeps it."""
    rate = getattr(encoder, "layer_drop_rate", None)  # E-Branchformer: its own loop
    if rate is None:
        rate = getattr(encoder.encoders, "layer_drop_rate", 0.0)  # conformer, transformer: MultiSequential
    return float(rate)


def embed_frames(
    encoder: torch.nn.Module, feats: torch.Tensor, feats_lengths: torch.Tensor
) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """Subsample features with the encoder's input layer.

    Args:
        feats: (B, L, F) normalised features.
        feats_lengths: (B,) valid feature frames.
    Returns:
        x: (B, T, D) frames after subsampling (and positional scaling).
        pos_emb: (1, 2T-1, D) relative positional embedding, or None for absolute ones.
        masks: (B, 1, T) bool, True on valid frames (ESPnet's attention-mask layout).
    """
    masks = (~make_pad_mask(feats_lengths, maxlen=feats.size(1))[:, None, :]).to(feats.device)
    too_short, limit = check_short_utt(encoder.embed, feats.size(1))
    if too_short:
        raise TooShortUttError(
            f"has {feats.size(1)} frames and is too short for subsampling "
            f"(it needs more than {limit} frames); filter such utterances in stage 4",
            feats.size(1),
            limit,
        )
    out, masks = encoder.embed(feats, masks)
    if isinstance(out, tuple):
        return out[0], out[1], masks
    return out, None, masks


@torch.no_grad()
def embed_frames_without_dropout(
    encoder: torch.nn.Module, feats: torch.Tensor, feats_lengths: torch.Tensor
) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """``embed_frames`` with the input layer in eval mode: no positional dropout, no gradient.

    The EMA teacher's input in the reference code: it is taken before any dropout.
    """
    was_training = encoder.embed.training
    encoder.embed.eval()
    try:
        return embed_frames(encoder, feats, feats_lengths)
    finally:
        encoder.embed.train(was_training)


def run_blocks(
    blocks: Sequence[torch.nn.Module],
    x: torch.Tensor,
    pos_emb: Optional[torch.Tensor],
    masks: torch.Tensor,
    features: str = "block",
    drop_rate: float = 0.0,
    keep_last: int = 0,
) -> List[torch.Tensor]:
    """Run encoder blocks and return one output per block.

    Args:
        blocks: the encoder's blocks (``encoder.encoders`` or the EMA teacher's copy).
        x: (B, T, D) block input.
        pos_emb: relative positional embedding from ``embed_frames`` or None.
        masks: (B, 1, T) bool valid-frame mask.
        features: "block": each block's output (before the encoder's final norm);
            "ffn": the output of each block's (second) feed-forward module, before the
            residual and the block's final norm (the reference code's targets).
        drop_rate: layer drop: in training mode each block is skipped with this
            probability (its output is its input), as ESPnet's ``layer_drop_rate``.
        keep_last: the last ``keep_last`` blocks are never skipped (the reference code
            spares its top 2 blocks).
    Returns:
        N tensors (B, T, D), for blocks 1..N.
    """
    if features not in BLOCK_FEATURES:
        raise ValueError(f"features must be one of {BLOCK_FEATURES}, got '{features}'")
    blocks = list(blocks)
    # Drawn only when layer drop is on, so that a run without it uses the random numbers
    # it always did (dropout and masks see the same stream).
    dropped = [False] * len(blocks)
    if drop_rate > 0 and blocks and blocks[0].training:
        draws = torch.empty(len(blocks)).uniform_()
        dropped = [bool(d < drop_rate) and i < len(blocks) - keep_last for i, d in enumerate(draws)]
    h = (x, pos_emb) if pos_emb is not None else x
    outputs = []
    for block, skip in zip(blocks, dropped):
        if features == "ffn":
            captured = []
            hook = block.feed_forward.register_forward_hook(lambda _m, _i, out: captured.append(out))
        if not skip:
            h, masks = block(h, masks)
        if features == "ffn":
            hook.remove()
            # A skipped block has no FFN output; its input stands in, as for "block".
            outputs.append(captured[0] if captured else (h[0] if isinstance(h, tuple) else h))
        else:
            outputs.append(h[0] if isinstance(h, tuple) else h)
    return outputs


def final_norm(encoder: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Apply the encoder's output LayerNorm as its own ``forward`` does (pre-LN models)."""
    if getattr(encoder, "normalize_before", True):
        return encoder.after_norm(h)
    return h


def parse_block(spec, num_blocks: int) -> int:
    """A block named in a config -> its 0-based index.

    Args:
        spec: "N" (the last block), "N-k" (k blocks below it), or a 1-based block number.
        num_blocks: N.
    """
    text = str(spec).replace(" ", "")
    if text == "N":
        index = num_blocks - 1
    elif text.startswith("N-") and text[2:].isdigit():
        index = num_blocks - 1 - int(text[2:])
    elif text.isdigit():
        index = int(text) - 1
    else:
        raise ValueError(f"block '{spec}': use N, N-k or a block number 1..{num_blocks}")
    if not 0 <= index < num_blocks:
        raise ValueError(f"block '{spec}' is outside the encoder's {num_blocks} blocks")
    return index


def count_frames(frontend: torch.nn.Module, encoder: torch.nn.Module, num_samples: Sequence[int]) -> List[int]:
    """Frames after subsampling for audio of each length (only the frontend and ``encoder.embed`` run)."""
    was_training = frontend.training, encoder.training
    frontend.eval(), encoder.eval()
    frames = []
    with torch.no_grad():
        for n in num_samples:
            feats, feats_lengths = frontend(torch.zeros(1, int(n)), torch.tensor([int(n)]))
            _, _, masks = embed_frames(encoder, feats, feats_lengths)
            frames.append(int(masks.sum()))
    frontend.train(was_training[0]), encoder.train(was_training[1])
    return frames
