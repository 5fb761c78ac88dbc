"""The notebooks' single-purpose widgets (their drawing, without a browser)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from cbr_edu.widgets import draw_two_vectors, vector_rotation_widget  # noqa: E402


@pytest.mark.parametrize("angle, length", [(180, 2.0), (120, 1.5), (60, 1.0), (90, 0.2)])
def test_the_distance_marker_stays_on_the_chart_whatever_the_length(angle, length):
    cos, dist = draw_two_vectors(angle, length)
    chart = plt.gcf().axes[1]
    low, high = chart.get_ylim()
    assert low <= cos <= high and low <= dist <= high, (dist, high)
    markers = chart.collections[-1]                      # the two dots, drawn over the legend
    assert markers.get_zorder() > chart.get_legend().get_zorder()
    plt.close("all")


def test_the_rotation_widget_has_hooks_for_its_sliders():
    widget = vector_rotation_widget(45)
    classes = [c._dom_classes for c in widget.children[:2]]
    assert classes == [("cbr-angle",), ("cbr-length",)]
