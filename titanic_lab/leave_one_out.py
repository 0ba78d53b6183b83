"""Ridge regression's leave-one-out errors in closed form, for every penalty at once (numpy; no torch).

With ``X = U S Vᵀ`` and ``d = s² / (s² + alpha)``, the fit is ``ŷ = U (d * Uᵀy)``, each row's leverage
``h = (U²) d``, and its leave-one-out error ``(y - ŷ) / (1 - h)`` (Golub, Heath and Wahba 1979; RidgeCV's
default ``cv=None``). :mod:`titanic_lab.penalty` chooses linear's penalty by it, and
:mod:`titanic_lab.datasets.infer` whether a skewed column's log serves the linear model better.
"""

from __future__ import annotations

import numpy as np

#: The alphas tried: none, then RidgeCV's usual grid ``numpy.logspace(-3, 3, 13)``.
ALPHAS: tuple[float, ...] = (0.0, *np.logspace(-3, 3, 13).tolist())


def loo_errors(X: np.ndarray, y: np.ndarray, alphas: tuple[float, ...] = ALPHAS) -> dict[float, float]:
    """Each alpha's leave-one-out mean squared error of ridge regression of ``y`` on ``X`` (closed form).

    Parameters
    ----------
    X : array-like, shape (n_rows, n_features)
    y : array-like, shape (n_rows,)

    Returns
    -------
    dict of float to float
        Alpha (on the sum of squares) -> leave-one-out MSE; ``inf`` where a row only it explains.
    """
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    U, s, _ = np.linalg.svd(X, full_matrices=False)  # U (n, k), s (k,)
    kept = s > s.max() * max(X.shape) * np.finfo(np.float64).eps  # as a pseudo-inverse drops the rest
    Uy, U2, s2 = U.T @ y, U * U, s * s
    out = {}
    for alpha in alphas:
        d = np.divide(s2, s2 + alpha, out=np.zeros_like(s2), where=kept)  # a constant column's 0/0 never computed
        fitted, leverage = U @ (d * Uy), U2 @ d
        free = 1 - leverage
        if (free <= 1e-12).any():  # a row only it explains: its leave-one-out error is unbounded
            out[alpha] = float("inf")
            continue
        out[alpha] = float((((y - fitted) / free) ** 2).mean())
    return out


def best_loo_error(X: np.ndarray, y: np.ndarray) -> float:
    """The lowest leave-one-out MSE over :data:`ALPHAS`: how well a ridge fit of ``y`` on ``X`` predicts rows it has not seen."""
    return min(loo_errors(X, y).values())
