"""Document model, layers, undo, painting, project on disk: plain Python and numpy, no Qt, no torch."""
