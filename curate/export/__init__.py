"""Export: clean, group-aware, stratified train/val/test splits with a manifest, a card and every exclusion."""

from .run import ExportReport, export
from .writers import FORMATS

__all__ = ["export", "ExportReport", "FORMATS"]
