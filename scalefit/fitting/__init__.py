"""Stage 4, fitting: FitSpec (the one way to fit), the engines that run a law through the solver, fit() -> Fit,
identifiability and goodness of fit."""
