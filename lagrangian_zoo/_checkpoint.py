"""Placeholder: being written."""


def save_model(*args, **kwargs):
    raise NotImplementedError


def load_model(*args, **kwargs):
    raise NotImplementedError
