"""Reports built from a readiness run: the document rendered as HTML and CSV for people at the NOC."""
