"""Stage 7, simulation studies: data drawn from a known law (or a misspecified one), refitted, to measure how
often every interval covers the truth."""
