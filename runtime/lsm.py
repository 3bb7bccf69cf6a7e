"""AppArmor and SELinux labels: process.apparmorProfile, process.selinuxLabel,
linux.mountLabel, and `exec --apparmor/--process-label`. runc 1.1.5's behaviour, checked
on a host with neither LSM:

- apparmorProfile: "exec PROFILE" is written to /proc/thread-self/attr/apparmor/exec (or
  attr/exec on kernels without the per-LSM directory) whether or not AppArmor is enabled;
  without AppArmor the kernel answers EINVAL and the container fails to start.
- selinuxLabel: refused up front when SELinux is not enabled ("selinux label is specified
  in config, but selinux is disabled or not supported"); else written to attr/exec.
- mountLabel: appended as context="LABEL" to the data of the mounts that take one (not
  proc, sysfs, mqueue, cgroup, nor binds); without SELinux the kernel refuses such mounts.

The exec attribute takes effect at the process's next execve: in pyrunc that is the
fexecve of pyrunc-init (the sealed helper), which then execs the container's process in
the new domain. Writes go through pathsafe.open_proc, so a mount over /proc cannot
swallow them (CVE-2019-16884).

Runs in the container's init and in exec's tenant: imported at module load by
pyrunc.process.init (no lazy imports after pivot_root).
"""
from pyrunc import oslite as os  # not os: see oslite.py

from pyrunc import pathsafe
from pyrunc.errors import ConfigError

SELINUX_DISABLED = "selinux label is specified in config, but selinux is disabled or not " \
                   "supported"
# Types whose mounts take no context= (runc mounts them without the label).
NO_CONTEXT = ("proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind")


def selinux_enabled(sysroot="/"):
    """SELinux is usable when selinuxfs is mounted (go-selinux looks for it the same way)."""
    return os.path.exists(os.path.join(sysroot, "sys/fs/selinux/enforce"))


def check(process, pointer="/process", sysroot="/"):
    """In the parent, before anything runs: a SELinux label needs SELinux."""
    if (process or {}).get("selinuxLabel") and not selinux_enabled(sysroot):
        raise ConfigError(f"{pointer}/selinuxLabel", SELINUX_DISABLED)


def exec_attr_writes(process, proc="/proc"):
    """[(path below proc, value, JSON pointer)] to write before the exec."""
    out = []
    profile = process.get("apparmorProfile")
    if profile:
        rel = "thread-self/attr/apparmor/exec" \
            if os.path.isdir(f"{proc}/thread-self/attr/apparmor") else "thread-self/attr/exec"
        out.append((rel, f"exec {profile}", "/process/apparmorProfile"))
    label = process.get("selinuxLabel")
    if label:
        out.append(("thread-self/attr/exec", label, "/process/selinuxLabel"))
    return out


def apply_exec_labels(process, proc="/proc", require_procfs=True):
    """Write the exec attributes; a failure names the field and the file."""
    for rel, value, pointer in exec_attr_writes(process, proc):
        what = "apparmor profile" if "apparmor" in pointer else "selinux label"
        try:
            fd = pathsafe.open_proc(rel, os.O_WRONLY, proc, require_procfs)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError as e:
            raise ConfigError(pointer, f'apply {what} "{value.split(" ", 1)[-1]}": write '
                              f"{proc}/{rel}: {e.strerror}") from None


def mount_data(data, mount_type, is_bind, label):
    """A mount's data with context="LABEL" added, as runc formats it."""
    if not label or is_bind or mount_type in NO_CONTEXT:
        return data
    ctx = f'context="{label}"'
    return f"{data},{ctx}" if data else ctx
