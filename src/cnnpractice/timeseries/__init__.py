"""Time-series studies: turning 1D series into 2D images for CNNs.

Kept import-light: import the submodules you need (e.g.
:mod:`cnnpractice.timeseries.transforms`).
"""
