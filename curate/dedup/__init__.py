"""Duplicates: exact (normalised text), near (MinHash LSH, verified Jaccard); groups with one
representative each, conflicts, and contamination against another collection."""

from .run import DEFAULT_NEAR_THRESHOLD, METHODS, DedupReport, dedup

__all__ = ["dedup", "DedupReport", "METHODS", "DEFAULT_NEAR_THRESHOLD"]
