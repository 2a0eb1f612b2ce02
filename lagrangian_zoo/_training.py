"""Placeholder: being written."""


def fit(*args, **kwargs):
    raise NotImplementedError
