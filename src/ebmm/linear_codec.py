"""A linear codec fitted to data: the mean and the leading principal directions (PCA).

Shared by the image memories that start their decoder from PCA and by the ``codec_nn`` reference
memory: one place for the fit, so both use the same basis for the same data.
"""

from __future__ import annotations

import torch


def fit_pca(images: torch.Tensor, components: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(D,)`` and the ``components`` leading principal directions ``(k, D)`` of ``images``.

    ``images`` is ``(M, ...)``, flattened to ``(M, D)``; the rows of the basis are orthonormal.
    ``k = min(components, M, D)``: asking for more directions than the data has gives fewer rows.
    Computed in float64 for a stable basis, returned in float32.
    """
    if isinstance(components, bool) or not isinstance(components, int) or components < 1:
        raise ValueError(f"components must be a positive int, got {components!r}")
    if images.ndim < 2 or images.shape[0] < 2:
        raise ValueError(f"fit_pca needs at least two examples (M, ...), got shape {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("fit_pca: images contain NaN or Inf")
    flat = images.reshape(images.shape[0], -1).double()
    mean = flat.mean(0)
    _, _, directions = torch.linalg.svd(flat - mean, full_matrices=False)
    return mean.float(), directions[:components].float().contiguous()
