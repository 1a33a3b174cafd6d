"""Masking declared on Django models (rules), applied with set-based SQL (apply), gated (gate)."""

from .apply import MaskingError, MaskingReport, connection_for, mask_clone, verify  # noqa: F401
