"""Figures (placeholder: being written)."""
