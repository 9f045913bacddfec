"""cnnpractice: the reusable code behind the workflow's studies.

Kept import-light on purpose: importing the package loads nothing heavy
(no torch, no Lightning). Import the submodules you need.
"""

__version__ = "0.1.0"
