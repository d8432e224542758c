"""The image canvas: tiled, level-of-detail display of an image and its label layers."""

from seggui.ui.canvas.view import Canvas

__all__ = ["Canvas"]
