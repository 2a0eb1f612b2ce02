"""Placeholder: being written."""


class Dataset:
    pass


class StateStream:
    pass


def generate_dataset(*args, **kwargs):
    raise NotImplementedError


def real_pendulum_dataset(*args, **kwargs):
    raise NotImplementedError
