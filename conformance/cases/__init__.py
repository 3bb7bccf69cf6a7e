"""Case modules, one per area of the spec; importing this package registers them all."""
from . import (cgroups, cli, errors, features, hooks, lifecycle, linux,  # noqa: F401
               mounts, namespaces, process, state, terminal)
