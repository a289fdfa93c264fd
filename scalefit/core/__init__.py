"""Stage 0, core: shared vocabulary every stage uses: errors and warnings, compute accounting (C = 6ND),
number formatting, the one parallel dispatch. Imports nothing else of scalefit."""
