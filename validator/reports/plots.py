"""Training-curve plots of one round, written as PNG into its round directory.

- ``train_loss.png``: each miner's training loss per LoRA step.
- ``eval_metrics.png``: per eval metric, the base model's value beside each miner's tuned one.

A tuned value is the component ``tuned_{metric}`` when the scorer records it, else derived
from ``{metric}_delta``, which is a gain (positive = better): base minus the delta for a loss
(lower is better), base plus the delta otherwise. A miner with neither is left out of that
metric's panel.
Uses matplotlib's Agg backend (no display, no network).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from validator.store.records import MinerRoundRecord, RoundRecord  # noqa: E402

# 100 dpi at 8x4.5 inches: 800x450 px, readable in a browser or a terminal image viewer.
DPI = 100
# Lines beyond this many miners are unreadable; the top scorers are drawn.
MAX_MINERS = 12


def tuned(m: MinerRoundRecord, metric: str, base: float) -> float | None:
    """The miner's tuned value of an eval metric, if its components say."""
    if f"tuned_{metric}" in m.components:
        return m.components[f"tuned_{metric}"]
    if f"{metric}_delta" in m.components:
        gain = m.components[f"{metric}_delta"]
        return base - gain if "loss" in metric else base + gain
    return None


def _top(record: RoundRecord) -> list[MinerRoundRecord]:
    return sorted(record.miners, key=lambda m: (-m.score, m.uid))[:MAX_MINERS]


def plot_train_loss(record: RoundRecord, path: Path) -> Path:
    """Loss per LoRA step, one line per miner."""
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=DPI)
    for m in _top(record):
        if m.train_losses:
            steps = range(1, len(m.train_losses) + 1)
            ax.plot(steps, m.train_losses, marker=".", label=f"uid {m.uid} ({m.competition})")
    ax.set(
        xlabel="LoRA step", ylabel="training loss", title=f"Training loss, round {record.round_id}"
    )
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_eval_metrics(record: RoundRecord, path: Path) -> Path:
    """Per eval metric, a bar for the base model and one per miner's tuned adapter."""
    metrics = sorted(record.base_metrics)
    fig, axes = plt.subplots(1, max(1, len(metrics)), figsize=(8, 4.5), dpi=DPI, squeeze=False)
    miners = _top(record)
    for ax, metric in zip(axes[0], metrics, strict=False):
        base = record.base_metrics[metric]
        labels, values = ["base"], [base]
        for m in miners:
            value = tuned(m, metric, base)
            if value is not None:
                labels.append(f"uid {m.uid}")
                values.append(value)
        colors = ["#888888"] + ["#1f77b4"] * (len(values) - 1)
        ax.bar(range(len(values)), values, color=colors)
        ax.set_xticks(range(len(values)), labels, rotation=60, fontsize=7)
        ax.set_title(metric, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if not metrics:
        axes[0][0].text(0.5, 0.5, "no eval metrics", ha="center", va="center")
    fig.suptitle(f"Base vs tuned eval metrics, round {record.round_id}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_round_plots(record: RoundRecord, round_dir: Path) -> list[Path]:
    """Write both plots into ``round_dir``; returns their paths."""
    round_dir = Path(round_dir)
    return [
        plot_train_loss(record, round_dir / "train_loss.png"),
        plot_eval_metrics(record, round_dir / "eval_metrics.png"),
    ]
