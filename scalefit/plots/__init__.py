"""Stage 9, figures: one module per figure family; each reads results and draws, computes nothing new."""
