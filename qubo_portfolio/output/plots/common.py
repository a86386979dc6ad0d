"""What every figure shares: pyplot on the Agg backend, labels placed without overlaps."""

from __future__ import annotations


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def place_labels(ax, labelled, obstacles, fontsize: float = 9, leaders: bool = False) -> None:
    """Annotate each (portfolio, text) beside its point where it covers no other label/marker.

    Greedy: candidate offsets right, left, below, above, ...; the first whose box (estimated
    in points) stays inside the axes and clear of earlier labels and of markers is used.
    ``leaders`` draws a thin line from each label to its point (for crowded points).
    """
    scale = ax.figure.dpi / 72.0  # pixels per point
    box = ax.get_window_extent()
    to_px = ax.transData.transform
    marks = [(*to_px((x, y)), r * scale) for x, y, r in obstacles]
    placed: list[tuple[float, float, float, float]] = []
    candidates = [
        (11, 0, "left", "center"),
        (-11, 0, "right", "center"),
        (9, -12, "left", "top"),
        (9, 12, "left", "bottom"),
        (-9, -12, "right", "top"),
        (-9, 12, "right", "bottom"),
        (11, -22, "left", "top"),
        (11, 22, "left", "bottom"),
    ]
    order = sorted(labelled, key=lambda item: item[0].annualized_volatility)
    for portfolio, text in order:
        px, py = to_px((portfolio.annualized_volatility, portfolio.annualized_return))
        width = (0.58 * fontsize * len(text) + 4) * scale
        height = (1.3 * fontsize + 2) * scale
        choice, choice_box = candidates[0], None
        for cand in candidates:
            dx, dy, ha, va = cand
            x0 = px + dx * scale - (width if ha == "right" else 0.0)
            y0 = py + dy * scale - {"center": height / 2, "top": height, "bottom": 0.0}[va]
            rect = (x0, y0, x0 + width, y0 + height)
            inside = (
                box.x0 <= rect[0] and rect[2] <= box.x1 and box.y0 <= rect[1] and rect[3] <= box.y1
            )
            clear = all(
                rect[2] < b[0] or b[2] < rect[0] or rect[3] < b[1] or b[3] < rect[1] for b in placed
            ) and all(
                not (rect[0] - r < mx < rect[2] + r and rect[1] - r < my < rect[3] + r)
                for mx, my, r in marks
            )
            if inside and clear:
                choice, choice_box = cand, rect
                break
        dx, dy, ha, va = choice
        if choice_box is None:
            x0 = px + dx * scale - (width if ha == "right" else 0.0)
            y0 = py + dy * scale - {"center": height / 2, "top": height, "bottom": 0.0}[va]
            choice_box = (x0, y0, x0 + width, y0 + height)
        placed.append(choice_box)
        ax.annotate(
            text,
            (portfolio.annualized_volatility, portfolio.annualized_return),
            xytext=(dx, dy),
            textcoords="offset points",
            ha=ha,
            va=va,
            fontsize=fontsize,
            color="black",
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
            arrowprops={"arrowstyle": "-", "color": "0.45", "lw": 0.7, "shrinkB": 5}
            if leaders
            else None,
            zorder=7,
        )
