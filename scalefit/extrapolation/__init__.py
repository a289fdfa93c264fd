"""Stage 6, extrapolation: backtests on the sweep itself (fit below a cut-off, predict above it) -> the Calibration
the extrapolation interval is built from (scalefit.uncertainty.prediction), and the held-out verdict as a view of
the backtest."""
