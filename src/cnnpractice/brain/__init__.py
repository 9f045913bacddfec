"""Study 2 of the talk ("interpretability"): Alzheimer's detection on brain MRI.

Stages (one module each):

* :mod:`.volumes` -- reading NIfTI/Analyze volumes with clear errors, atomic writes.
* :mod:`.template`, :mod:`.atlases` -- the template grid: MNI152 template, brain mask and a
  labelled atlas (AAL/AAL3 shipped, Harvard-Oxford fetched).
* :mod:`.synth` -- the offline synthetic cohort (misaligned template copies, planted atrophy).
* :mod:`.oasis`, :mod:`.oasis_fetch` -- OASIS-1 clinical CSV (CDR labels), cohort layout;
  the download.
* :mod:`.registration` -- affine registration to the template and similarity QC.
* :mod:`.slices` -- named slice configurations (view axis, range) -> 2D slice arrays.
* :mod:`.folds` -- subject-level stratified k-fold (no subject in train and test).
* :mod:`.interpret`, :mod:`.interpret_run` -- per-filter class brain models (streamed),
  differential models, dBMS, atlas region ranking; the stage run on one trained model.
* :mod:`.figures`, :mod:`.tables` -- the figures and tables; :mod:`.pipeline` -- the stages
  as the rules call them.
"""
