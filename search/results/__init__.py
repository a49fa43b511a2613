"""An experiment's results read back: Tune's files as plain data, nothing unpickled (`tune_files`), the
table of trials, importances and plots `inspect` shows (`trials`), and "best by metric" (`best`)."""
