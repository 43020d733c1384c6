"""Coverage: cluster training prompts with production queries to find the topics training misses."""

from .analysis import DEFAULT_UNCOVERED_SIMILARITY, CoverageReport, run

__all__ = ["run", "CoverageReport", "DEFAULT_UNCOVERED_SIMILARITY"]
