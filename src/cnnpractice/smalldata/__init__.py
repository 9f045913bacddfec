"""Study 1 of the talk: training CNNs on small datasets.

The rules call :mod:`.stages` (one function per rule), which delegates to
:mod:`.datasets` (fetch and prepare; :mod:`.registry`, :mod:`.readers`,
:mod:`.preprocess`), :mod:`.training` (greedy and end-to-end stages, fine-tuning),
:mod:`.learned` (CNN, DeCAF and engineered features: :mod:`.features`, :mod:`.hcfeats`;
linear classifiers: :mod:`.classify`), :mod:`.tables` and :mod:`.figures`.
"""
