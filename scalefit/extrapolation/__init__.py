"""Stage 6, extrapolation: backtests on the sweep itself -> Calibration, the three prediction intervals (law band,
new-run, extrapolation) built from a Calibration, and the held-out verdict as a view of the backtest."""
