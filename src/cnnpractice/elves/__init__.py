"""Elves in fluorescence-telescope movies (study 3, the talk's "customization" example).

Elves are rings of ultraviolet light in the lower ionosphere (~90 km up), excited by the
electromagnetic pulse (EMP) of a strong lightning stroke; the Pierre Auger Observatory's
fluorescence detector (FD) records them with 100 ns time bins. Modules:

* :mod:`~cnnpractice.elves.geometry` - spherical Earth, FD sites and cameras, the
  emission layer, the light-arrival-time model.
* :mod:`~cnnpractice.elves.simulate` - elves and the other events as camera movies, written
  to disk in shards; :mod:`~cnnpractice.elves.render` integrates light into time bins.
* :mod:`~cnnpractice.elves.nuisances` - per-elve physics the fit is not told about (layer,
  light yield, aerosols, multi-ring elves).
* :mod:`~cnnpractice.elves.backgrounds` - showers, laser shots, lightning, events cut at the
  trace's edges.
* :mod:`~cnnpractice.elves.fit` - the analytic baseline: per-pixel time of first light,
  least-squares fit of the stroke position and time, one eye or jointly (stereo).
* :mod:`~cnnpractice.elves.inputs`, :mod:`~cnnpractice.elves.training` - what the CNNs see,
  and the detector and locator trainings.
* :mod:`~cnnpractice.elves.scores`, :mod:`~cnnpractice.elves.reconstruction`,
  :mod:`~cnnpractice.elves.detection`, :mod:`~cnnpractice.elves.tables`,
  :mod:`~cnnpractice.elves.sanity`, :mod:`~cnnpractice.elves.figures` - results.
* :mod:`~cnnpractice.elves.stages` - the rules' entry points (one function per rule).
"""
