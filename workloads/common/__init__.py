"""Framework-agnostic pieces shared by workload families (data splits, checksums) and the PyTorch glue."""
