"""Learned dynamics models (placeholder: being written)."""
