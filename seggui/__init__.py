"""seggui: annotate microscopy images, correct model proposals, fine-tune in the background."""

__version__ = "0.1.0"
