"""Duplicates: exact (normalised text), near (MinHash LSH, verified Jaccard), semantic (embeddings); groups with one
representative each, conflicts, and contamination against another collection."""

from .analysis import (
    DEFAULT_METHODS,
    DEFAULT_NEAR_THRESHOLD,
    DEFAULT_SEMANTIC_THRESHOLD,
    METHODS,
    DedupReport,
    run,
    semantic_threshold_for,
)

__all__ = ["run", "DedupReport", "METHODS", "DEFAULT_METHODS", "DEFAULT_NEAR_THRESHOLD",
           "DEFAULT_SEMANTIC_THRESHOLD", "semantic_threshold_for"]
