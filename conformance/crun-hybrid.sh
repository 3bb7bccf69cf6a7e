#!/bin/sh
# Runs a runtime (crun 1.8) in a private mount namespace without the hybrid cgroup2 mount:
# crun refuses this host's v1+unified layout. The host's own mounts are not touched.
# Usage: python -m conformance --runtime /usr/bin/crun --wrap conformance/crun-hybrid.sh
exec unshare -m --propagation private sh -c \
    'if [ -d /sys/fs/cgroup/unified ] && mountpoint -q /sys/fs/cgroup/unified; then
         umount /sys/fs/cgroup/unified || exit 125
     fi
     exec "$@"' crun-hybrid "$@"
