"""A ridge penalty chosen by data, in closed form, as scikit-learn's ``RidgeCV`` chooses its alpha.

For the squared error of a model linear in its parameters, every penalty's fit and its
leave-one-out errors follow from one singular value decomposition of the training rows,
``X = U S Vᵀ``: with ``d = s² / (s² + alpha)``, the fit is ``ŷ = U (d * Uᵀy)``, each row's
leverage ``h = (U²) d``, and its leave-one-out error ``(y - ŷ) / (1 - h)`` (Golub, Heath and
Wahba 1979; RidgeCV's default ``cv=None``). The alpha with the lowest leave-one-out mean squared
error over :data:`ALPHAS` (0, no penalty, among them) is kept.

An alpha on the sum of squares, ``|Xw - y|² + alpha |w|²``, is the trainer's ``l2`` on the mean,
``mean((Xw - y)²) + l2 / 2 |w|²``, at ``l2 = 2 alpha / n``; every parameter is penalised, the
bias (``Ones``) too, as :func:`titanic_lab.training.fit` penalises it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

#: The alphas tried: none, then RidgeCV's usual grid ``numpy.logspace(-3, 3, 13)``.
ALPHAS: tuple[float, ...] = (0.0, *np.logspace(-3, 3, 13).tolist())


@dataclass(frozen=True)
class PenaltyChoice:
    """What :func:`choose_l2` found: the penalty kept and every alpha's leave-one-out MSE."""

    l2: float
    alpha: float
    rows: int
    errors: dict[float, float]

    def describe(self) -> str:
        """One line for the README sheet and the summary."""
        none = self.errors.get(0.0)
        return (f"l2 {self.l2:.4g} (alpha {self.alpha:.4g} on the sum of squares): the lowest leave-one-out MSE, "
                f"{self.errors[self.alpha]:.6g}, of {len(self.errors)} alphas on the {self.rows} training rows"
                + (f" (no penalty: {none:.6g})" if none is not None and self.alpha != 0 else ""))


def loo_errors(X: torch.Tensor, y: torch.Tensor, alphas: tuple[float, ...] = ALPHAS) -> dict[float, float]:
    """Each alpha's leave-one-out mean squared error of ridge regression of ``y`` on ``X`` (closed form).

    Parameters
    ----------
    X : Tensor, shape (n_rows, n_features)
    y : Tensor, shape (n_rows,)
    """
    X, y = X.to(torch.float64), y.to(torch.float64)
    U, s, _ = torch.linalg.svd(X, full_matrices=False)  # U (n, k), s (k,)
    kept = s > s.max() * max(X.shape) * torch.finfo(torch.float64).eps  # as a pseudo-inverse drops the rest
    Uy, U2, s2 = U.T @ y, U * U, s * s
    out = {}
    for alpha in alphas:
        d = torch.where(kept, s2 / (s2 + alpha), torch.zeros_like(s2))
        fitted, leverage = U @ (d * Uy), U2 @ d
        free = 1 - leverage
        if (free <= 1e-12).any():  # a row only it explains: its leave-one-out error is unbounded
            out[alpha] = float("inf")
            continue
        out[alpha] = float((((y - fitted) / free) ** 2).mean())
    return out


def choose_l2(X: torch.Tensor, y: torch.Tensor, alphas: tuple[float, ...] = ALPHAS) -> PenaltyChoice:
    """The ridge penalty with the lowest leave-one-out error on these rows, as the trainer's ``l2``."""
    errors = loo_errors(X, y, alphas)
    alpha = min(errors, key=errors.get)
    return PenaltyChoice(l2=2 * alpha / len(y), alpha=alpha, rows=len(y), errors=errors)
