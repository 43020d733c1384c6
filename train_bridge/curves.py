"""The training record a person looks at: an SVG loss curve, and a warning when val loss turns up."""

from __future__ import annotations

from pathlib import Path


def loss_svg(metrics: list[dict], path: Path) -> None:
    train = [(m["step"], m["loss"]) for m in metrics if "loss" in m]
    evals = [(m["step"], m["eval_loss"]) for m in metrics if "eval_loss" in m]
    pts = train + evals
    if not pts:
        return
    w, h, pad = 640, 320, 40
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts) or 1
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    sx = lambda x: pad + (x - x0) / max(1e-9, x1 - x0) * (w - 2 * pad)  # noqa: E731
    sy = lambda y: h - pad - (y - y0) / max(1e-9, y1 - y0) * (h - 2 * pad)  # noqa: E731
    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in train)
    dots = "".join(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#d62728"/>' for x, y in evals)
    path.write_text(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
        f'font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>'
        f'<polyline points="{line}" fill="none" stroke="#4c78a8" stroke-width="2"/>{dots}'
        f'<text x="{pad}" y="20">loss: train (line), val (red dots); steps {x0}-{x1}; '
        f'{y0:.3f}-{y1:.3f}</text></svg>', encoding="utf-8")


def overfitting(metrics: list[dict]) -> str | None:
    evals = [m["eval_loss"] for m in metrics if "eval_loss" in m]
    train = [m["loss"] for m in metrics if "loss" in m]
    if len(evals) >= 3 and evals[-1] > evals[-2] > evals[-3] and len(train) >= 2 and train[-1] < train[0]:
        return (f"val loss rose for two evaluations ({evals[-3]:.3f} -> {evals[-1]:.3f}) while train loss fell: "
                "overfitting; the best checkpoint (lowest val loss) was kept")
    return None
