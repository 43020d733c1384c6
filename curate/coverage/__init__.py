"""Coverage: cluster training prompts with production queries to find the topics training misses."""

from .run import DEFAULT_UNCOVERED_SIMILARITY, CoverageReport, coverage

__all__ = ["coverage", "CoverageReport", "DEFAULT_UNCOVERED_SIMILARITY"]
