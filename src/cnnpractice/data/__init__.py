"""Dataset materialization: turn public benchmark data into validated ``.npz`` files.

Submodules are imported explicitly (e.g. ``from cnnpractice.data import ucr``);
importing this package loads nothing heavy.
"""
