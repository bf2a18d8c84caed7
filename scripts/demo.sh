#!/usr/bin/env bash
# The local demo: provision three guests on this machine from a demo tree served on 127.0.0.1.
# It arrives with the guest_install role; until then it says so and fails.
set -euo pipefail
cat >&2 <<'MSG'
make demo will: prepare the local libvirt (as `make test` does), build a demo Fedora-style
tree holding the stand-in installer, serve it on 127.0.0.1, provision three guests with
playbooks/provision.yml, show the summary, run again to show changed=0, and tell you how to
look at the guests and clean up (make demo-clean).

It is not built yet: the guest_install role and the provision playbook have not landed.
MSG
exit 1
