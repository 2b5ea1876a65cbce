"""One module per ``fitdiff`` sub-command; see :mod:`fitdiff.cli`."""
