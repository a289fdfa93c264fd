"""Stage 10, reports: record (fit.json, both ways), the text summary, Markdown and HTML rendering."""
