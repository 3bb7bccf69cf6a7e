#!/bin/busybox sh
# initramfs PID 1: load the virtio/9p/overlay modules, build / as a tmpfs overlay over the
# host's / (shared read-only over 9p), mount the job share, and switch_root into stage2.
/bin/busybox mkdir -p /proc /sys /dev /host /rw /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do /bin/busybox insmod /modules/$m.ko || echo "insmod $m failed"; done
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288 hostroot /host || exec /bin/busybox sh
/bin/busybox mount -t tmpfs -o size=512m tmpfs /rw
/bin/busybox mkdir -p /rw/upper /rw/work
/bin/busybox mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot
/bin/busybox mkdir -p /newroot/pyrunc-job
/bin/busybox mount -t 9p -o trans=virtio,version=9p2000.L,rw,msize=524288 job /newroot/pyrunc-job
/bin/busybox mount --move /dev /newroot/dev
/bin/busybox umount /proc /sys
exec /bin/busybox switch_root /newroot /bin/sh /pyrunc-job/stage2.sh
