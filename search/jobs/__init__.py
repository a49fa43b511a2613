"""What each `posetune` command runs, one module per command (`search/commands/` holds only their flags):
demo, demo_set (`data demo`, `data show`), enhance (`data enhance`), train, search (launch, resume),
predict, study. Each imports its heavy libraries at the top; the CLI imports one of them per handler."""
