"""siamface device runtime: frame -> faces -> embeddings -> matches -> events.

Depends on onnxruntime, OpenCV, numpy and PyYAML only; never on the workstation stack.
"""

__version__ = "0.1.0"
