"""Study 1 of the talk: training CNNs on small datasets."""
