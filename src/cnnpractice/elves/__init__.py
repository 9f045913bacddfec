"""Elves in fluorescence-telescope movies (study 3, the talk's "customization" example).

Elves are rings of ultraviolet light in the lower ionosphere (~90 km up), excited by the
electromagnetic pulse (EMP) of a strong lightning stroke; the Pierre Auger Observatory's
fluorescence detector (FD) records them with 100 ns time bins. Modules:

* :mod:`~cnnpractice.elves.geometry` - spherical Earth, FD sites and cameras, the
  emission layer, the light-arrival-time model.
* :mod:`~cnnpractice.elves.simulate` - elves, cosmic-ray shower tracks and noise as camera
  movies, written to disk in shards.
* :mod:`~cnnpractice.elves.fit` - the analytic baseline: per-pixel time of first light,
  least-squares fit of the stroke position and time.
* :mod:`~cnnpractice.elves.training` - the CNN detector and locator trainings.
* :mod:`~cnnpractice.elves.tables`, :mod:`~cnnpractice.elves.figures` - results.
* :mod:`~cnnpractice.elves.stages` - the rules' entry points (one function per rule).
"""
