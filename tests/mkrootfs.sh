#!/bin/sh
# Build a minimal busybox root filesystem in DIR from Debian's busybox-static.
# Usage: tests/mkrootfs.sh DIR
set -eu
dir=${1:?usage: mkrootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkrootfs: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/sbin" "$dir/usr/bin" "$dir/usr/sbin" "$dir/etc" "$dir/proc" \
         "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/root" "$dir/home/user" "$dir/var" "$dir/run"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
chmod 1777 "$dir/tmp"
cat > "$dir/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
cat > "$dir/etc/group" <<'GR'
root:x:0:
tty:x:5:
user:x:1000:
nogroup:x:65534:
GR
chown 1000:1000 "$dir/home/user"
echo "pyrunc" > "$dir/etc/hostname"
