"""Process roles of a container start: the parent (the CLI), the namespace stage, and init."""
