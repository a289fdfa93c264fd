"""Stage 1, data: files and DataFrames -> a validated RunTable (readers, column names, units, sanity checks),
and the registry of public datasets. Knows nothing of laws or fitting. The bundled example sweep lives here too."""
