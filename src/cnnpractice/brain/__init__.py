"""Study 2 of the talk ("interpretability"): Alzheimer's detection on brain MRI.

The rules call :mod:`.stages` (one function per rule), which delegates to:

* :mod:`.volumes` -- reading NIfTI/Analyze volumes with clear errors, atomic writes.
* :mod:`.template`, :mod:`.atlases` -- the template grid: MNI152 template, brain mask and a
  labelled atlas (AAL/AAL3 shipped, Harvard-Oxford fetched).
* :mod:`.cohort` -- the cohort table; :mod:`.synth` -- the offline synthetic cohort
  (misaligned template copies, planted atrophy); :mod:`.oasis`, :mod:`.oasis_clinical`,
  :mod:`.oasis_fetch` -- OASIS-1's cohort layout, clinical CSV (CDR labels), download.
* :mod:`.alignment` -- alignment in shards and the QC table; :mod:`.registration`,
  :mod:`.registration_backends` -- affine registration (SimpleITK, dipy), similarity.
* :mod:`.slices` -- named slice configurations (view axis, range) -> 2D slice arrays.
* :mod:`.folds` -- subject-level stratified k-fold (no subject in train and test).
* :mod:`.training` -- the CNN on one fold; :mod:`.svm` -- the linear-SVM baseline;
  :mod:`.metrics` -- subject-level metrics of both.
* :mod:`.interpret`, :mod:`.interpret_run` -- per-filter class brain models (streamed),
  differential models, dBMS, atlas region ranking; the stage run on one trained model.
* :mod:`.figures`, :mod:`.tables` -- the figures and tables.
"""
