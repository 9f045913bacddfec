"""Training shared by every study: one LightningModule for classification, an
array-backed data module, and one place that builds the Trainer and runs a
resumable fit + test."""
