"""Study 5 of the talk: time series as images for CNNs.

The rules call :mod:`.stages` (one function per rule), which delegates to
:mod:`.transforms` (GASF, GADF, MTF, RP), :mod:`.training`, :mod:`.tables` and
:mod:`.figures`; the UCR data come from :mod:`cnnpractice.data.ucr`.

Kept import-light: import the submodules you need.
"""
