"""Metrics on rollouts (placeholder: being written)."""
