"""Study 2 of the talk ("interpretability"): Alzheimer's detection on brain MRI.

Stages (one module each):

* :mod:`.volumes` -- reading NIfTI/Analyze volumes with clear errors, atomic writes.
* :mod:`.template` -- the template grid: MNI152 template, brain mask and a labelled atlas.
* :mod:`.synth` -- the offline synthetic cohort (misaligned template copies, planted atrophy).
* :mod:`.oasis` -- OASIS-1 download, clinical CSV (CDR labels), cohort layout.
* :mod:`.registration` -- affine registration to the template and similarity QC.
* :mod:`.slices` -- named slice configurations (view axis, range) -> 2D slice arrays.
* :mod:`.folds` -- subject-level stratified k-fold (no subject in train and test).
* :mod:`.interpret` -- per-filter class brain models (streamed), differential models, dBMS,
  atlas region ranking.
* :mod:`.figures`, :mod:`.tables` -- the figures and tables.
"""
