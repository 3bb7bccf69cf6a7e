"""Case modules, one per area of the spec; importing this package registers them all."""
from . import errors, hooks, lifecycle, linux, mounts, namespaces, process, state  # noqa: F401
