# References: facebookresearch/mae demo/mae_visualize.ipynb (masked image, reconstruction, reconstruction with the
# visible patches pasted back; per-patch normalised predictions brought back with the target patch's statistics).
"""MAE's reconstructions of masked crops, as images, and a picture of them (``tools/draw_mae_reconstructions.py``)."""
from typing import Dict, List

import cv2
import numpy as np
import torch
import torch.nn as nn

from .grid import patchify, unpatchify


@torch.no_grad()
def reconstruct(model: nn.Module, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Mask, encode, decode: what mmpretrain's ``MAE.loss`` computes, as images.

    Args:
        model: an mmpretrain ``MAE`` with :class:`ViTPoseMAE`, :class:`ViTPoseMAEDecoder`, :class:`ViTPoseMAEHead`.
        inputs: (B, 3, H, W) images as the model's data preprocessor gives them (normalised).

    Returns:
        ``mask`` (B, h * w), 1 for removed patches; ``masked``, ``reconstruction`` and ``pasted`` (the
        reconstruction in the removed patches, the input elsewhere), all (B, 3, H, W) in the input's space. With
        ``norm_pix`` the predicted patches are brought back with each input patch's mean and variance (MAE's demo).
    """
    p, grid = model.head.patch_size, model.backbone.patch_shape
    latent, mask, ids_restore = model.backbone(inputs)
    pred = model.neck(latent, ids_restore)
    if model.head.norm_pix:
        target = patchify(inputs, p)
        pred = pred * (target.var(dim=-1, keepdim=True) + 1.e-6) ** .5 + target.mean(dim=-1, keepdim=True)
    reconstruction = unpatchify(pred, p, grid, inputs.shape[1])
    keep = unpatchify(mask.unsqueeze(-1).expand(-1, -1, p * p * inputs.shape[1]), p, grid, inputs.shape[1])
    return dict(mask=mask, masked=inputs * (1 - keep), reconstruction=reconstruction,
                pasted=inputs * (1 - keep) + reconstruction * keep)


def to_images(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, rgb: bool = True) -> List[np.ndarray]:
    """(B, 3, H, W) normalised images -> B uint8 BGR arrays (H, W, 3): ``x * std + mean``, clipped."""
    x = (x * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)).clamp(0, 255).round().byte()
    imgs = x.permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(im[..., ::-1]) if rgb else im for im in imgs]


def tile(rows: List[List[np.ndarray]], labels: List[str], gap: int = 2) -> np.ndarray:
    """A picture with one row per label (same-sized BGR images side by side), the label above each row."""
    h, w = rows[0][0].shape[:2]
    band = 14
    out = np.full((len(rows) * (h + band + gap), len(rows[0]) * (w + gap) - gap, 3), 255, np.uint8)
    for r, (images, label) in enumerate(zip(rows, labels)):
        y = r * (h + band + gap)
        cv2.putText(out, label, (2, y + band - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        for c, im in enumerate(images):
            out[y + band:y + band + h, c * (w + gap):c * (w + gap) + w] = im
    return out


__all__ = ['reconstruct', 'to_images', 'tile']
