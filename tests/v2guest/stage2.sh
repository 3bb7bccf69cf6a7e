#!/bin/sh
# Guest stage 2, on the overlay root: a cgroup-v2-only system, then either the job itself
# (plain) or systemd as PID 1 running the job as a oneshot unit (systemd variant).
J=/pyrunc-job
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
# /tmp stays the host's (through the overlay, whose upper layer is a tmpfs): the checkout
# under test may live there (CI clones anywhere).
mount -t tmpfs tmpfs /run
if [ -f $J/systemd ]; then
    mkdir -p /etc/systemd/system /etc/tmpfiles.d
    # Keep the host's /tmp (the checkout may be there): no tmpfs on it, and no boot-time
    # clean-up of it by systemd-tmpfiles (an empty tmp.conf here overrides Debian's).
    ln -sf /dev/null /etc/systemd/system/tmp.mount
    : > /etc/tmpfiles.d/tmp.conf
    cat > /etc/systemd/system/pyrunc-job.service <<UNIT
[Unit]
Description=pyrunc guest job
After=dbus.socket
Requires=dbus.socket
[Service]
Type=oneshot
Environment=HOME=/root
ExecStart=/bin/sh -c 'cd $J && sh $J/cmd > $J/output 2>&1; echo \$? > $J/rc; sync; echo o > /proc/sysrq-trigger'
UNIT
    umount /run /proc /sys
    exec /lib/systemd/systemd systemd.unit=pyrunc-job.service
fi
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
# The job runs in a leaf of its own, so the root cgroup has no processes of ours to move.
mkdir /sys/fs/cgroup/job && echo $$ > /sys/fs/cgroup/job/cgroup.procs
cd $J && sh $J/cmd > $J/output 2>&1
echo $? > $J/rc
sync
echo o > /proc/sysrq-trigger
sleep 10
