#!/usr/bin/env bash
# Build the Xen lab's dom0: Debian 12 with Xen 4.17, libvirt (libxl driver), the modules' Python
# libraries and an SSH server, booted by sysvinit.  Usage: build_dom0.sh MINBASE_TARBALL OUT_DIR
# (the tarball is tests/bare_host.py's cached debootstrap minbase root).  OUT_DIR gets xen.elf
# (Xen, a multiboot1 ELF QEMU's -kernel boots), vmlinuz + initrd.img (dom0's kernel) and dom0.img
# (an ext4 root file system).  It is tests/xenlab.py's recipe: a change here rebuilds the image.
set -euo pipefail
TARBALL=$1 OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# Exactly what the hypervisor role installs on a Debian Xen host without systemd, so that the
# role, run against this dom0, finds it prepared; plus what the lab needs to boot and be reached.
PACKAGES=(sysvinit-core udev kmod procps iproute2 ifupdown netbase openssh-server linux-image-amd64
          initramfs-tools
          libvirt-daemon-system libvirt-clients dnsmasq-base iptables qemu-utils
          xen-system-amd64 libvirt-daemon-driver-xen qemu-system-xen
          python3-libvirt python3-lxml python3-jmespath python3-pycdlib libvirt-daemon-system-sysv)
R=$OUT.root
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$R/$m" && umount -l "$R/$m"; done
  return 0
}
trap cleanup EXIT
rm -rf --one-file-system "$R" "$OUT"
mkdir -p "$R" "$OUT.part"
zstd -dc "$TARBALL" | tar --numeric-owner -C "$R" -xpf -
cp /etc/resolv.conf "$R/etc/resolv.conf"
mount -t proc proc "$R/proc"; mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"
mount -t sysfs sys "$R/sys"
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod 755 "$R/usr/sbin/policy-rc.d"   # start nothing here
chroot "$R" apt-get update -qq
DEBIAN_FRONTEND=noninteractive chroot "$R" apt-get install -qq -y --no-install-recommends "${PACKAGES[@]}" >/dev/null
# libvirtd's preload (dom0/uvlab-vme.c), built here against the headers of dom0's own libxl.
(cd "$R/tmp" && chroot "$R" sh -c 'cd /tmp && apt-get download -qq libxen-dev' >/dev/null)
dpkg -x "$R"/tmp/libxen-dev_*.deb "$R/tmp/xendev"
gcc -shared -fPIC -O2 -Wall -I "$R/tmp/xendev/usr/include" -o "$R/usr/local/lib/uvlab-vme.so" "$HERE/dom0/uvlab-vme.c"
rm -rf "$R"/tmp/libxen-dev_*.deb "$R/tmp/xendev"
chroot "$R" apt-get clean
rm -f "$R/usr/sbin/policy-rc.d"
cleanup

# The files of dom0 (tests/xen/dom0/): its network, its SSH key from the kernel command line,
# the toolstack's console logs.
install -m 644 "$HERE/dom0/interfaces" "$R/etc/network/interfaces"
install -m 755 "$HERE/dom0/uvlab" "$R/etc/init.d/uvlab"
chroot "$R" update-rc.d uvlab defaults >/dev/null
echo dom0 > "$R/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 dom0\n' > "$R/etc/hosts"
printf 'nameserver 10.0.2.3\n' > "$R/etc/resolv.conf"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$R/etc/fstab"
echo 'export LD_PRELOAD=/usr/local/lib/uvlab-vme.so' >> "$R/etc/default/libvirtd"
# xenconsoled as Debian installs it, without guest console logs: the hypervisor role turns them on
sed -i 's/^\([1-6]:.*getty.*\)/#\1/' "$R/etc/inittab"   # no terminals to log in on
printf 'hvc:2345:respawn:/sbin/getty -L 115200 hvc0 vt100\n' >> "$R/etc/inittab"
chroot "$R" ssh-keygen -A >/dev/null
# No PAM session per login: under TCG, elogind's session set-up made logins fail now and then
echo 'UsePAM no' > "$R/etc/ssh/sshd_config.d/uvlab.conf"
install -d -m 700 "$R/root/.ssh"

zcat "$R"/boot/xen-4.17-amd64.gz > "$OUT.part/xen.elf"
cp "$R"/boot/vmlinuz-*-amd64 "$OUT.part/vmlinuz"
cp "$R"/boot/initrd.img-*-amd64 "$OUT.part/initrd.img"
# shellcheck disable=SC2016  # dpkg-query's own fields
chroot "$R" dpkg-query -W -f '${Package} ${Version}\n' > "$OUT.part/packages"
mkfs.ext4 -q -F -L dom0root -d "$R" "$OUT.part/dom0.img" 6G
rm -rf --one-file-system "$R"
mv "$OUT.part" "$OUT"
