"""Stage 11, the command line: one module per subcommand, a thin shell over the Python API."""
