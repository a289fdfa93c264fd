"""Stage 5, uncertainty: resampling schemes, the batched bootstrap -> Bootstrap, interval methods (percentile,
BCa) and the run-to-run noise model."""
