"""Command-line front end: one module per runc command, each with FLAGS and run()."""
