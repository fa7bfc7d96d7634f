"""Where pmsim's bundled data lives: ``datasets/`` beside the code packages, in a checkout or a wheel."""

from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent / "datasets"
