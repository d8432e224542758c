"""The scale bar at the bottom-left of the canvas, for images whose file gives a physical pixel
size: a round length (1, 2 or 5 x 10^n µm) about a tenth of the view wide at the current zoom."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter

if TYPE_CHECKING:
    from seggui.ui.canvas.view import Canvas

MARGIN = 12  # widget pixels from the bottom-left corner
TARGET_PIXELS = 110  # the bar is the round length nearest below this many widget pixels
BAR_HEIGHT = 4


def format_length(micrometres: float) -> str:
    if micrometres >= 1000:
        return f"{micrometres / 1000:g} mm"
    if micrometres < 1:
        return f"{micrometres * 1000:g} nm"
    return f"{micrometres:g} µm"


def scale_bar(pixel_um: float, zoom: float, target_pixels: float = TARGET_PIXELS) -> tuple[float, float, str]:
    """(length in µm, length in widget pixels, label) of the bar for `pixel_um` µm per image pixel
    shown at `zoom` widget pixels per image pixel."""
    widest = target_pixels * pixel_um / zoom  # µm the target width covers
    power = 10.0 ** math.floor(math.log10(widest))
    length = max(step * power for step in (1, 2, 5) if step * power <= widest * (1 + 1e-9))
    length = float(f"{length:.6g}")  # 0.30000000000000004 -> 0.3
    return length, length * zoom / pixel_um, format_length(length)


def draw_scale_bar(painter: QPainter, canvas: "Canvas") -> None:
    entry = canvas.entry
    image = entry.image_layer if entry is not None and entry.loaded else None
    pixel = image.pixel_size_um if image is not None else None
    if not pixel or canvas.zoom <= 0:
        return
    _, width, text = scale_bar(pixel[0], canvas.zoom)
    metrics = QFontMetricsF(painter.font())
    box_width = max(width, metrics.horizontalAdvance(text)) + 12
    box_height = metrics.height() + BAR_HEIGHT + 12
    box = QRectF(MARGIN, canvas.height() - MARGIN - box_height, box_width, box_height)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 150))
    painter.drawRoundedRect(box, 3, 3)
    painter.fillRect(QRectF(box.left() + 6, box.bottom() - 6 - BAR_HEIGHT, width, BAR_HEIGHT), QColor(255, 255, 255))
    painter.setPen(QColor(255, 255, 255))
    painter.drawText(QRectF(box.left() + 6, box.top() + 4, box_width - 12, metrics.height()),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
    painter.restore()
