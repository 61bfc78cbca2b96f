"""Errors of the analysis boundary (translated from the LLM client at the edge)."""


class AnalysisError(Exception):
    """Base of every analysis failure."""


class AnalysisUnavailable(AnalysisError):
    """The LLM could not be reached or answered 5xx/429; retrying may help."""


class AnalysisRejected(AnalysisError):
    """The LLM refused the request (401/403/400): fix the key or the model name."""


class AnalysisInvalid(AnalysisError):
    """The LLM answered, but its output does not match the analysis schema."""
