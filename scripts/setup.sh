#!/usr/bin/env bash
# Install what the tests and the demo need on a Debian 12 host (as root): apt packages,
# host preparation for a hand-started libvirtd, and a virtualenv.  Quick when all is there.
set -euo pipefail
. "$(dirname "$0")/common.sh"

APT_PACKAGES=(
  libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev pkg-config
  qemu-system-x86 qemu-utils busybox-static cpio libxml2-utils xorriso
  python3-venv python3-dev gcc libc6-dev rsync curl git shellcheck procps iproute2
  debian-installer-12-netboot-amd64
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils
  # the stand-in's installed system (tests/fixtures/build.sh): a raw disk image built in user
  # space, syslinux's MBR and its mtools-based installer, sfdisk for the partition table
  syslinux syslinux-common mtools fdisk
  # the fixture ISO boots by BIOS (El Torito) into the stand-in: isolinux.bin (ldlinux.c32 is in
  # syslinux-common)
  isolinux
  # the hypervisor role's test: a bare Debian root (tests/bare_host.py)
  debootstrap zstd
  # the quickstart's hypervisor host: the modules' libraries for /usr/bin/python3
  python3-libvirt python3-lxml python3-jmespath python3-pycdlib
  # the lab network (tests/lab.py): libvirt's DHCP/TFTP server, and the iptables libvirt
  # calls to start any network (its rules land in the lab's own network namespace)
  dnsmasq-base iptables
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing apt packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A hand-started libvirtd (no libvirt-daemon-system, no systemd) needs the default QEMU
# user to exist, the log folder, and QEMU running as root (/dev/kvm is root-only here, and
# as another user libvirt would re-probe QEMU on every call).
getent passwd libvirt-qemu >/dev/null ||
  useradd --system --user-group --home-dir /var/lib/libvirt --no-create-home \
          --shell /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt/qemu /etc/libvirt
[ -e /etc/libvirt/qemu.conf ] ||
  printf '# written by unattended.virt scripts/setup.sh\nuser = "root"\ngroup = "root"\n' > /etc/libvirt/qemu.conf

# The virtualenv, rebuilt when the requirement files change.
stamp=$(cat "$UV_REPO"/requirements*.txt | sha256sum | cut -c1-16)
if [ "$(cat "$UV_VENV/.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "building virtualenv $UV_VENV"
  mkdir -p "$UV_WORK"
  [ -x "$UV_PY" ] || /usr/bin/python3 -m venv "$UV_VENV"
  "$UV_VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$UV_REPO/requirements.txt" -r "$UV_REPO/requirements-controller.txt" \
    -r "$UV_REPO/requirements-test.txt"
  echo "$stamp" > "$UV_VENV/.stamp"
fi

# The collection as Ansible finds it: ansible_collections/unattended/virt -> this clone.
mkdir -p "$UV_COLLECTIONS/ansible_collections/unattended"
ln -sfn "$UV_REPO" "$UV_COLLECTIONS/ansible_collections/unattended/virt"
