"""Training shared by every study.

* :mod:`.settings` -- a ``training`` config section split into data and fit settings.
* :mod:`.module`, :mod:`.data` -- the LightningModules (classification, regression) and the
  array-backed data modules.
* :mod:`.runner` -- the Trainer, built in one place, and :func:`~.runner.fit_and_test`: one
  resumable fit + test for both tasks; :mod:`.callbacks` and :mod:`.workdir` its pieces.
* :mod:`.device` -- the device of the steps that run a network outside the Trainer.
"""
