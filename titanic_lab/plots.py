"""Plots as PNG files (matplotlib, headless): training curves, the learning-rate finder; and
:func:`pyplot` and :func:`save_png`, which every plot of the package uses."""

from __future__ import annotations

from pathlib import Path

from typing import TYPE_CHECKING

from .files import atomic_output

if TYPE_CHECKING:
    from .runs import Run
    from .training import LRFind


def pyplot():
    """``matplotlib.pyplot`` on the headless Agg backend (imported only when a plot is drawn)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as a PNG, atomically, and close it."""
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png")
    pyplot().close(fig)
    return Path(path)


def plot_history(run: "Run", path: str | Path) -> Path:
    """Train and validation loss (left) and validation accuracy (right) per epoch, every model."""
    fig, (loss_ax, acc_ax) = pyplot().subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for i, (name, result) in enumerate(run.results.items()):
        epochs = [h["epoch"] for h in result.history]
        loss_ax.plot(epochs, [h["train_loss"] for h in result.history], color=f"C{i}", label=f"{name} train ({result.settings.loss})")
        if result.valid_loss is not None:
            loss_ax.plot(epochs, [h["valid_loss"] for h in result.history], color=f"C{i}", linestyle="--", label=f"{name} valid")
            if result.valid_accuracy is not None:  # a regression target has no accuracy
                acc_ax.plot(epochs, [h["valid_accuracy"] for h in result.history], color=f"C{i}", label=name)
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss per epoch", yscale="log")
    title = ("No validation rows" if not len(run.valid_idx) else
             "Validation accuracy" if run.dataset.target.record.classifies else "No accuracy: a regression target")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title=title)
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)


def plot_lr_find(found: "LRFind", path: str | Path, title: str = "") -> Path:
    """The learning-rate finder's loss against the learning rate (log scale), its suggestions marked."""
    fig, ax = pyplot().subplots(figsize=(7, 4.2), dpi=110)
    ax.plot(found.lrs, found.losses, color="C0", label="loss")
    # Wide, pale lines under a thin one: a suggestion equal to the valley or to minimum / 10 hides neither.
    for lr, label, style, color, width in ((found.valley, "valley", "-", "C2", 5), (found.minimum / 10, "minimum / 10", "-", "C1", 5),
                                           (found.suggestion, "suggested", "--", "C3", 1.5)):
        ax.axvline(lr, color=color, linestyle=style, linewidth=width, alpha=0.45 if width > 2 else 1, label=f"{label}: {lr:.3g}")
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss before the step", title=title or "Learning-rate finder")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_png(fig, path)
