"""Role unattended.virt.hypervisor on a bare Debian 12 host (a debootstrap root in namespaces of
its own, tests/bare_host.py): check mode says what it would install and installs nothing; the
first run takes the host from nothing to one that carries guests; check mode and a second run
then change nothing; and the provision playbook with provision_prepare_hosts=true installs a
guest there, on the hypervisor the role's facts chose."""
import json
import os
import re
import shutil
import sys
import time

import pytest

import bare_host
import uvtest
from ansible_collections.unattended.virt.plugins.filter.hypervisor import hypervisor_plan

pytestmark = pytest.mark.integration

RECAP = re.compile(r"^bare\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
BIN = os.path.dirname(sys.executable)

PREPARE = """\
- name: Prepare the bare host
  hosts: bare
  gather_facts: false
  roles:
    - role: unattended.virt.hypervisor
  tasks:
    - name: Show what the host can run guests with
      ansible.builtin.debug:
        msg: "HYPERVISOR-FACTS {{ hypervisor_facts | to_json }}"
      when: hypervisor_facts is defined  # not in check mode on a bare host: nothing runs there to ask
"""

# Runs inside the namespaces: the demo tree served on the namespace's loopback, then the
# three playbook runs, each timed, each with its own log.
DRIVER = r"""
set -u
cd "$WORK"
"$PY" "$REPO/scripts/serve_tree.py" "$TREE" "$WORK/http.port" 2> "$WORK/http.log" &
for _ in $(seq 100); do [ -s "$WORK/http.port" ] && break; sleep 0.1; done
sed -i "s#@PORT@#$(cat "$WORK/http.port")#" "$WORK/inventory.json"
for step in precheck first check second provision; do
  case $step in
    provision) args="-e provision_prepare_hosts=true unattended.virt.provision" ;;
    precheck|check) args="--check --diff $WORK/prepare.yml" ;;
    *) args="$WORK/prepare.yml" ;;
  esac
  t0=$(date +%s%N)
  "$BIN/ansible-playbook" -i "$WORK/inventory.json" $args > "$WORK/$step.log" 2>&1
  rc=$?
  echo "$step rc=$rc seconds=$(( ($(date +%s%N) - t0) / 1000000000 ))" >> "$WORK/steps"
  if [ "$step" = precheck ] && [ -e "$ROOT/usr/sbin/libvirtd" ]; then echo "precheck installed libvirt" >> "$WORK/steps"; fi
done
"""


def test_bare_debian_host_to_installed_guest(tmp_path, fixtures):
    for tool in ("debootstrap", "zstd", "unshare"):
        assert uvtest.have_command(tool), "%s is missing: scripts/setup.sh installs it" % tool
    work = tmp_path / "bare"
    work.mkdir()
    root = str(work / "root")
    bare_host.unpack(root)
    try:
        # What the role will install (its own filter says), fetched while there is a network.
        plan = hypervisor_plan({"os_family": "Debian", "service_mgr": "sysvinit"}, "kvm")
        bare_host.download(root, ["python3-apt"] + plan["packages"])
        inventory = {"all": {"hosts": {"bare": dict(
            uvtest.guest_install_host_vars("qemu:///system", "/var/lib/uvbare"),
            ansible_connection="local",
            ansible_python_interpreter=bare_host.interpreter(root, str(work)),
            guest_install_pool="default",
            guest_install_pool_path="/var/lib/libvirt/images",
            guest_install_hypervisor="{{ hypervisor_facts.guest_install_hypervisor }}",
            guest_install_guests=[{"name": "uvbare-1", "location": "http://127.0.0.1:@PORT@/"}],
        )}}}
        (work / "inventory.json").write_text(json.dumps(inventory, indent=1))
        (work / "prepare.yml").write_text(PREPARE)
        env = uvtest.module_env()
        env.pop("ANSIBLE_PYTHON_INTERPRETER", None)
        env.update(ANSIBLE_PIPELINING="True", WORK=str(work), PY=sys.executable, REPO=uvtest.REPO, BIN=BIN,
                   TREE=os.path.join(fixtures, "trees", "fedora"), HOME=str(work), ROOT=root)
        started = time.monotonic()
        proc = bare_host.run_in_namespaces(root, ["bash", "-c", DRIVER], env, timeout=2400)
        logs = dict((step, (work / (step + ".log")).read_text() if (work / (step + ".log")).exists() else "")
                    for step in ("precheck", "first", "check", "second", "provision"))
        steps = (work / "steps").read_text() if (work / "steps").exists() else ""
        detail = "%s\n%s\n%s\n--- first\n%s\n--- second\n%s\n--- provision\n%s" % (
            steps, proc.stdout[-2000:], proc.stderr[-2000:], logs["first"][-6000:], logs["second"][-4000:],
            logs["provision"][-6000:])
        print("bare host: %s (%.0f s in all)" % (steps.replace("\n", "; "), time.monotonic() - started))
        # Check mode on the bare host: it says what it would install, and installs nothing.
        assert "precheck rc=0" in steps and "precheck installed" not in steps, detail + logs["precheck"][-6000:]
        assert "would install: libvirt-daemon-system" in logs["precheck"], logs["precheck"][-6000:]
        precheck = RECAP.search(logs["precheck"])
        assert precheck and int(precheck.group(2)) > 0, logs["precheck"][-6000:]
        assert "first rc=0" in steps, detail
        first = RECAP.search(logs["first"])
        assert first and int(first.group(2)) > 0, detail
        facts = json.loads(re.search(r"HYPERVISOR-FACTS (\{.*?\})\"", logs["first"]).group(1).replace('\\"', '"'))
        assert facts["driver"] == "QEMU" and facts["tcg"] is True, facts
        assert facts["guest_install_hypervisor"] == ("kvm" if facts["kvm_usable"] else "qemu"), facts
        assert "check rc=0" in steps, detail
        check = RECAP.search(logs["check"])
        assert check and check.group(2) == "0", "check mode on a prepared host reports a change:\n" + logs["check"][-6000:]
        assert "second rc=0" in steps, detail
        second = RECAP.search(logs["second"])
        assert second and second.group(2) == "0", "the second run changed something:\n" + detail
        assert "provision rc=0" in steps, detail
        assert re.search(r"uvbare-1\s+installed", logs["provision"]), detail
        # The guest really installed on the bare host: the stand-in's record on its disk, made
        # by a QEMU that ran as the distribution's libvirt-qemu user.
        disk = os.path.join(root, "var/lib/libvirt/images/uvbare-1.qcow2")
        record = uvtest.install_record_of(disk, str(work))
        assert record and record.get("hostname"), record
        with open(os.path.join(root, "etc/libvirt/qemu/uvbare-1.xml")) as handle:
            assert "<domain type='%s'>" % facts["guest_install_hypervisor"] in handle.read()
    finally:
        shutil.rmtree(root, ignore_errors=True)   # its mounts went with the namespaces
