"""Small interactive helpers for the notebooks (ipywidgets + matplotlib).

Every ``*_widget`` function returns an ``ipywidgets`` object to display; the drawing
functions it wraps (``draw_*``) are plain matplotlib, so they also work without a
browser (in tests, in a script, in a static HTML export) — a widget draws its first
picture when it is displayed. ipywidgets comes with cbr-edu; where it is missing (an
install that skipped dependencies), a ``*_widget`` draws that first picture, says
the sliders need ipywidgets, and returns None.

Example
-------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> cos, dist = draw_two_vectors(60)
>>> round(cos, 3), round(dist, 3)
(0.5, 1.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_two_vectors", "vector_rotation_widget", "show_images", "draw_neighbours",
           "neighbour_widget", "draw_instance_scores", "instance_scores_widget"]


def _plt():
    import matplotlib.pyplot as plt
    return plt


def _ipywidgets():
    """The ipywidgets module, or None when it is not installed."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def _still(show, **first):
    """Without ipywidgets: draw the widget's first picture and say what is missing."""
    print("ipywidgets is not installed: a still picture instead of the sliders "
          "(pip install ipywidgets to move them).")
    show(**first)
    return None


# ----------------------------------------------------------------- 01: two vectors

def draw_two_vectors(angle_deg=60.0, length_b=1.0):
    """Draw unit vector ``a`` at 0° and ``b`` at ``angle_deg`` (length ``length_b``),
    with cosine and L2 distance curves; return ``(cosine, l2 distance)``."""
    plt = _plt()
    theta = np.deg2rad(angle_deg)
    a = np.array([1.0, 0.0])
    b = length_b * np.array([np.cos(theta), np.sin(theta)])
    cos = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    dist = float(np.linalg.norm(a - b))

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.add_patch(plt.Circle((0, 0), 1, fill=False, ls=":", color="grey"))
    for vec, name, colour in ((a, "a", "tab:blue"), (b, "b", "tab:orange")):
        ax1.annotate("", xy=vec, xytext=(0, 0),
                     arrowprops=dict(arrowstyle="-|>", color=colour, lw=2.5))
        ax1.text(*(vec * 1.12), name, color=colour, fontsize=14, ha="center", va="center")
    ax1.plot([a[0], b[0]], [a[1], b[1]], color="tab:red", lw=1.5, ls="--",
             label=f"a − b  (length {dist:.2f})")
    arc = np.linspace(0, theta, 50)
    ax1.plot(0.3 * np.cos(arc), 0.3 * np.sin(arc), color="black", lw=1)
    ax1.text(0.38 * np.cos(theta / 2), 0.38 * np.sin(theta / 2), f"{angle_deg:.0f}°")
    lim = max(1.3, 1.2 * length_b)
    ax1.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal",
            title=f"cos = {cos:.3f}    ‖a − b‖ = {dist:.3f}")
    ax1.legend(loc="lower left")

    angles = np.linspace(0, 180, 181)
    rad = np.deg2rad(angles)
    ax2.plot(angles, np.cos(rad), label="cosine similarity", color="tab:blue")
    ax2.plot(angles, np.sqrt(np.maximum(2 - 2 * np.cos(rad), 0)),
             label="L2 distance of unit vectors  √(2 − 2cos)", color="tab:red")
    ax2.axvline(angle_deg, color="grey", ls=":")
    ax2.scatter([angle_deg, angle_deg], [cos, dist], color=["tab:blue", "tab:red"],
                zorder=6)   # above the legend, which sits where nothing is plotted
    # the distance marker stays on the chart when b is longer than 1 (up to 1 + |b|)
    ax2.set(xlabel="angle between a and b (degrees)", xlim=(0, 180),
            ylim=(-1.1, max(2.1, dist + 0.2)),
            title="as one goes up, the other goes down")
    ax2.legend(loc="lower left")
    fig.tight_layout()
    plt.show()
    return cos, dist


def vector_rotation_widget(angle_deg=60.0):
    """Sliders: rotate ``b`` (and stretch it) and watch cosine and L2 move together."""
    widgets = _ipywidgets()
    if widgets is None:
        return _still(draw_two_vectors, angle_deg=angle_deg, length_b=1.0)
    angle = widgets.FloatSlider(value=angle_deg, min=0, max=180, step=5,
                                description="angle (°)", continuous_update=False)
    length = widgets.FloatSlider(value=1.0, min=0.2, max=2.0, step=0.1,
                                 description="length of b", continuous_update=False)
    angle.add_class("cbr-angle")
    length.add_class("cbr-length")
    return widgets.interactive(lambda angle, length: _quiet(draw_two_vectors(angle, length)),
                               angle=angle, length=length)


def _quiet(_):
    return None


# ----------------------------------------------------------------- 02/03: galleries

def _as_image(img):
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255 if img.max() > 1.5 else 1)
    return img


def show_images(images, titles=None, ncols=8, size=1.6, suptitle=None):
    """A grid of images with optional titles."""
    plt = _plt()
    n = len(images)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.3),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.ravel()[i]
        ax.imshow(_as_image(img), cmap="gray" if np.ndim(img) == 2 else None)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    plt.show()


def draw_neighbours(query_image, gallery_images, similarities, k=5, gallery_labels=None,
                    query_label=None):
    """The query and its ``k`` most similar gallery images, best first, with scores.

    A neighbour with the same label as the query gets a green title marked ✓, another
    one a red title marked ✗ (the mark, for readers who do not see the colours).
    """
    plt = _plt()
    similarities = np.asarray(similarities, dtype=float).ravel()
    order = np.argsort(-similarities)[:k]
    fig, axes = plt.subplots(1, k + 1, figsize=(1.9 * (k + 1), 2.3))
    axes[0].imshow(_as_image(query_image))
    axes[0].set_title("query" + (f"\n{query_label}" if query_label is not None else ""),
                      fontsize=9, fontweight="bold")
    for ax, j in zip(axes[1:], order):
        ax.imshow(_as_image(gallery_images[j]))
        label = "" if gallery_labels is None else f"\n{gallery_labels[j]}"
        colour, mark = "black", ""
        if gallery_labels is not None and query_label is not None:
            same = gallery_labels[j] == query_label
            colour, mark = ("tab:green", "✓ ") if same else ("tab:red", "✗ ")
        ax.set_title(f"{mark}#{j}  cos {similarities[j]:.2f}{label}", fontsize=9, color=colour)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    plt.show()
    return order


def neighbour_widget(query_images, query_embeddings, gallery_images, gallery_embeddings,
                     query_labels=None, gallery_labels=None, k=5):
    """Pick a query (slider) and see its ``k`` nearest gallery images."""
    from .similarity import cosine

    sims = cosine(query_embeddings, gallery_embeddings)

    def show(query, k):
        draw_neighbours(query_images[query], gallery_images, sims[query], k=k,
                        gallery_labels=gallery_labels,
                        query_label=None if query_labels is None else query_labels[query])

    widgets = _ipywidgets()
    if widgets is None:
        return _still(show, query=0, k=min(k, len(gallery_images)))
    return widgets.interactive(
        show,
        query=widgets.IntSlider(0, 0, len(query_images) - 1, description="query",
                                continuous_update=False),
        k=widgets.IntSlider(min(k, len(gallery_images)), 1, min(10, len(gallery_images)),
                            description="k", continuous_update=False))


# ----------------------------------------------------------------- 03: instance scores

def draw_instance_scores(scores, labels, title=None, ax=None):
    """Bars: one cosine score per index instance, coloured by class, best one marked."""
    plt = _plt()
    scores = np.asarray(scores, dtype=float).ravel()
    labels = [str(x) for x in labels]
    classes = sorted(set(labels))
    cmap = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
    colours = [cmap(classes.index(lab) % cmap.N) for lab in labels]
    own = ax is None
    if own:
        _, ax = plt.subplots(figsize=(max(5, 0.45 * len(scores)), 3))
    bars = ax.bar(np.arange(len(scores)), scores, color=colours)
    best = int(np.argmax(scores))
    bars[best].set_edgecolor("black")
    bars[best].set_linewidth(2.5)
    ax.set_xticks(np.arange(len(scores)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("cosine similarity")
    ax.set_title(title or f"nearest instance: #{best} ({labels[best]}, {scores[best]:.3f})")
    if own:
        plt.tight_layout()
        plt.show()
    return ax


def instance_scores_widget(query_images, instance_scores, labels, query_titles=None):
    """Pick a query (slider): its image and the retrieval layer's score per instance."""
    plt = _plt()
    instance_scores = np.asarray(instance_scores)

    def show(query):
        fig, (ax0, ax1) = plt.subplots(
            1, 2, figsize=(3 + max(5, 0.45 * instance_scores.shape[1]), 3),
            gridspec_kw={"width_ratios": [1, 3]})
        ax0.imshow(_as_image(query_images[query]))
        ax0.axis("off")
        ax0.set_title("query" if query_titles is None else str(query_titles[query]))
        draw_instance_scores(instance_scores[query], labels, ax=ax1)
        fig.tight_layout()
        plt.show()

    widgets = _ipywidgets()
    if widgets is None:
        return _still(show, query=0)
    return widgets.interactive(
        show, query=widgets.IntSlider(0, 0, len(query_images) - 1, description="query",
                                      continuous_update=False))
