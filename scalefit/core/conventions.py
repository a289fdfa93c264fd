"""Compute accounting, named once: training compute C = k N D FLOPs with k = 6 by default.

k = 6 FLOPs per parameter per training token (2 forward + 4 backward; Kaplan et al. 2020, Hoffmann et al.
2022). A law or a run table may use another convention (e.g. non-embedding N, or k = 8 with activation
recomputation); every module that needs C from N and D calls :func:`training_compute` with the convention
in force, never writes ``6 * N * D`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FLOPS_PER_TOKEN_PARAM = 6.0  # training FLOPs per parameter per token (forward + backward)
INFERENCE_FLOPS_PER_TOKEN_PARAM = 2.0  # inference (forward only) FLOPs per parameter per token


@dataclass(frozen=True)
class ComputeConvention:
    """C = flops_per_token_param x N x D (FLOPs; N in parameters, D in tokens)."""

    flops_per_token_param: float = FLOPS_PER_TOKEN_PARAM

    def compute(self, N, D):
        """Training compute (FLOPs) of N parameters trained on D tokens; arrays broadcast."""
        return self.flops_per_token_param * np.asarray(N, dtype=float) * np.asarray(D, dtype=float)

    def tokens(self, C, N):
        """Tokens D that compute C buys for a model of N parameters."""
        return np.asarray(C, dtype=float) / (self.flops_per_token_param * np.asarray(N, dtype=float))

    def params(self, C, D):
        """Parameters N that compute C buys for D tokens."""
        return np.asarray(C, dtype=float) / (self.flops_per_token_param * np.asarray(D, dtype=float))


DEFAULT = ComputeConvention()


def training_compute(N, D, flops_per_token_param: float = FLOPS_PER_TOKEN_PARAM):
    """C = flops_per_token_param x N x D FLOPs (default 6ND)."""
    return ComputeConvention(flops_per_token_param).compute(N, D)


def tokens_for_compute(C, N, flops_per_token_param: float = FLOPS_PER_TOKEN_PARAM):
    """D = C / (flops_per_token_param x N)."""
    return ComputeConvention(flops_per_token_param).tokens(C, N)


def params_for_compute(C, D, flops_per_token_param: float = FLOPS_PER_TOKEN_PARAM):
    """N = C / (flops_per_token_param x D)."""
    return ComputeConvention(flops_per_token_param).params(C, D)
