"""A PNG of training and validation loss per epoch.

    plot_losses({"train": [1.0, 0.5], "validation": [1.1, 0.7]}, "cnn.loss.png", title="cnn")
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["plot_losses"]


def plot_losses(curves: dict[str, list[float]], path: str | Path, *, title: str = "", best_epoch: int | None = None) -> Path:
    """Each curve against epochs 1..N (log scale when all positive); a marker at ``best_epoch`` (1-based)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        if values:
            axes.plot(range(1, len(values) + 1), values, marker=".", label=name)
    if best_epoch is not None:
        axes.axvline(best_epoch, color="grey", linestyle=":", label=f"kept (epoch {best_epoch})")
    if all(value > 0 for values in curves.values() for value in values):
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
