"""Segmentation engine: networks, inference, post-processing, metrics and training.

Imports torch but never Qt, so the CLI and training child processes stay headless.
The GUI calls `seggui.ml.registry` (list and load models) and `seggui.ml.training.train`.
"""
