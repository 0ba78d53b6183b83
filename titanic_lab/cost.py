"""How much work a command would do, estimated before the work starts, and its limit.

The estimate counts multiply-adds, and bounds them from above: a model trained until it
converges counts its cap of epochs (``max_epochs``). Per fit of a model trained by gradient
descent: epochs x rows x parameters x restarts x 3 (the forward pass and the backward one; ``lbfgs`` 4,
with its line search's forward pass), plus
a fixed cost per epoch (Python's, about 0.1 ms); ``newton``: its Hessian (2 x rows x
features^2) and its pseudo-inverse (100 x features^3: a symmetric eigendecomposition, counted as
measured: 800 s at 10,001 features on a busy two-core machine, where 2,500 features trained in 82 s),
for the nnet at every step and restart, over its weights, with its line search's eight passes. A
scikit-learn baseline counts its iterations over rows x features. ``leaderboard`` multiplies
by its fits (folds x repeats, twice with ticket-grouped folds) and adds a fixed cost per fit.

===============================  ===============================================  ==========================
variable                         what it bounds                                   default
===============================  ===============================================  ==========================
``TITANIC_LAB_MAX_WORK``         the estimated multiply-adds of one command       10T (1e13)
===============================  ===============================================  ==========================

At the 40 million to 40 billion multiply-adds a second measured on a two-core machine
(gradient descent's small products are the slow end, a large eigendecomposition the fast one),
the default is from minutes to hours: what is refused is what might not finish in a day.
"""

from __future__ import annotations

from typing import Iterable

from .errors import OptionError
from .limits import env_limit, human, max_memory

#: The fixed cost of one epoch (Python, the optimizer's bookkeeping) and of one fit, in multiply-adds.
EPOCH_OVERHEAD = 100_000
FIT_OVERHEAD = 10_000_000
#: What a fit of each scikit-learn baseline costs, per row x feature (its iterations or trees).
BASELINE_PASSES = {"logistic": 1_000, "ridge": 0, "forest": 200 * 20, "boosting": 100 * 20, "histboosting": 100 * 3,
                   "gender": 0, "mean": 0, "majority": 0}


def max_work() -> int:
    """``TITANIC_LAB_MAX_WORK``, else 10 T multiply-adds (suffixes are powers of 1000: ``50T``)."""
    return env_limit("TITANIC_LAB_MAX_WORK", 10**13, base=1000)


def fit_work(spec, settings, n_rows: int, n_features: int) -> int:
    """An upper estimate of the multiply-adds of training ``spec`` once (see the module's docstring)."""
    from .models import hidden_sizes
    from .training import restart_epochs

    epochs = settings.epochs if settings.epochs is not None else settings.max_epochs
    runs = restart_epochs(settings, epochs)  # restarts x epochs, fewer restarts late (training.KEPT_RESTARTS)
    if settings.optimizer == "newton" and hidden_sizes(spec):  # the nnet's: its Hessian, pseudo-inverse and line search each step
        weights = n_features * sum(hidden_sizes(spec))
        return runs * (2 * n_rows * weights**2 + 100 * weights**3 + 8 * n_rows * weights + EPOCH_OVERHEAD)
    if settings.optimizer == "newton":
        return 2 * n_rows * n_features**2 + 100 * n_features**3 + epochs * (n_features**2 + EPOCH_OVERHEAD)
    sizes = (n_features, *hidden_sizes(spec), 1)
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    passes = 4 if settings.optimizer == "lbfgs" else 3  # lbfgs: its line search's forward pass (or more)
    return runs * passes * n_rows * params + epochs * EPOCH_OVERHEAD


def baseline_work(kind: str, n_rows: int, n_features: int) -> int:
    """An estimate of a scikit-learn baseline's multiply-adds (RidgeCV: its decomposition)."""
    if kind == "ridge":
        return 2 * n_rows * n_features * min(n_rows, n_features) + 30 * min(n_rows, n_features) ** 3
    return BASELINE_PASSES.get(kind, 1_000) * n_rows * n_features


def check_work(work: float, what: str, advice: str) -> None:
    """Refuse ``work`` multiply-adds over :func:`max_work`, naming ``what`` and the ways out."""
    limit = max_work()
    if work > limit:
        raise OptionError(f"{what} would need about {_ops(work)} multiply-adds (estimated before any work), more than the "
                          f"limit of {_ops(limit)}; {advice}, or raise the limit with TITANIC_LAB_MAX_WORK (e.g. 100T)")


def _ops(n: float) -> str:
    return human(n, "").strip() if n < 1e18 else f"{n:.1e}"


def check_training(models: Iterable[tuple[object, object]], n_rows: int, n_features: int) -> None:
    """Refuse a run whose models (``(ModelSpec, TrainSettings)`` pairs) would need more than the limit."""
    models = list(models)
    work = sum(fit_work(spec, settings, n_rows, n_features) for spec, settings in models)
    newton = [spec.name for spec, settings in models if settings.optimizer == "newton"]
    why = f"{n_rows:,} rows x {n_features:,} features, models {', '.join(spec.name for spec, _ in models)}"
    advice = "use fewer columns (a --spec without some) or rows (--sample), --epochs N, or fewer models"
    if newton and n_features > 1_000:
        advice = f"newton's step ({', '.join(newton)}) grows as features^3: train with --optimizer adam, or {advice}"
    check_work(work, f"training ({why})", advice)


def check_cross_validation(entries, n_rows: int, n_features: Iterable[int], folds: int, repeats: int, grouped: bool,
                           settings_of) -> None:
    """Refuse a leaderboard whose fits (entries x folds x repeats) would need more than the limit.

    ``n_features`` holds each entry's number of features; ``settings_of(entry)`` gives an own
    entry's ``(ModelSpec, TrainSettings)``.
    """
    fits = folds * repeats * (2 if grouped else 1)
    rows = n_rows - n_rows // folds
    per_round = 0
    for entry, width in zip(entries, n_features):
        if entry.own:
            spec, settings = settings_of(entry)
            per_round += fit_work(spec, settings, rows, width)
        else:
            per_round += baseline_work(entry.model, rows, width)
        per_round += FIT_OVERHEAD
    check_work(per_round * fits, f"leaderboard ({len(entries)} entries x {folds:,} folds x {repeats:,} repeats"
               f"{' x 2 (ticket-grouped folds)' if grouped else ''} on {n_rows:,} rows)",
               "use fewer --folds, --repeats or entries (-m), or fewer columns")


def check_matrix(n_rows: int, n_features: int, where: object) -> None:
    """Refuse a design matrix (rows x features, float64, about three copies) over the memory limit."""
    need, limit = 3 * 8 * n_rows * n_features, max_memory()
    if need > limit:
        raise OptionError(f"{where}: its {n_rows:,} rows x {n_features:,} features would need about {human(need)}, more than "
                          f"the limit of {human(limit)}; use fewer columns or levels, or raise TITANIC_LAB_MAX_MEMORY")


def feature_count(steps, df) -> int:
    """How many columns ``steps`` (a Preset's features) give on rows ``df``, before any fit:
    a step with a column per level counts its levels, given or distinct in ``df``."""
    from .features import feature_kind

    count = 0
    for feat in steps:
        kind = feature_kind(feat.kind)
        if not kind.per_level:
            count += 1
        elif feat.levels is not None:
            count += len(feat.levels)
        else:
            count += int(df[feat.column].nunique()) if feat.column in df.columns else 1
    return max(count, 1)

