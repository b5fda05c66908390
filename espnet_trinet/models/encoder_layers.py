"""Run an ESPnet encoder one stage at a time, so the student can be masked between
the subsampling front (``encoder.embed``) and the blocks (``encoder.encoders``).

ESPnet's ``ConformerEncoder.forward`` masks nothing and, with ``return_all_hs``,
returns every block only when no intermediate CTC is configured; TriNet needs the
masked input *after* the 4x conv2d subsampling (the reference code's frame rate) and
every block output, so the loop is written here once for conformer, transformer and
E-Branchformer encoders (all three expose ``embed``, ``encoders`` and ``after_norm``).
"""

from typing import List, Optional, Tuple

import torch
from espnet.nets.pytorch_backend.nets_utils import make_pad_mask
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError, check_short_utt


def check_layerwise_encoder(encoder: torch.nn.Module) -> None:
    """Fail early, naming the encoder, if it lacks the parts the student needs."""
    missing = [a for a in ("embed", "encoders", "after_norm") if not hasattr(encoder, a)]
    if missing:
        raise TypeError(
            f"{type(encoder).__name__} has no {', '.join(missing)}: TriNet needs an ESPnet "
            "encoder with embed/encoders/after_norm (conformer, transformer, e_branchformer)"
        )


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


def run_blocks(
    blocks: torch.nn.ModuleList,
    x: torch.Tensor,
    pos_emb: Optional[torch.Tensor],
    masks: torch.Tensor,
) -> List[torch.Tensor]:
    """Run encoder blocks and return every block's output (before the final norm).

    Args:
        x: (B, T, D) block input.
        pos_emb: relative positional embedding from ``embed_frames`` or None.
        masks: (B, 1, T) bool valid-frame mask.
    Returns:
        N tensors (B, T, D), the outputs of blocks 1..N.
    """
    h = (x, pos_emb) if pos_emb is not None else x
    outputs = []
    for block in blocks:
        h, masks = block(h, masks)
        outputs.append(h[0] if isinstance(h, tuple) else h)
    return outputs


def final_norm(encoder: torch.nn.Module, h: torch.Tensor) -> torch.Tensor:
    """Apply the encoder's output LayerNorm as its own ``forward`` does (pre-LN models)."""
    if getattr(encoder, "normalize_before", True):
        return encoder.after_norm(h)
    return h
