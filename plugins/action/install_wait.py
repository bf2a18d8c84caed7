# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a batch of guests that are installing, with progress lines on the controller.

Runs on the controller.  The watching itself happens on the host, in rounds of
unattended.virt.install_batch step=wait (one module run per progress_interval for the whole
batch, looking at the guests every poll_interval): the end of an install is seen within
a fraction of a second, and each round prints where every guest is.  With finish, each guest is
finished by the round that sees its outcome (install_batch step=wait finish=true): the batch costs
the host no module run of its own to finish."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.unattended.virt.plugins.module_utils._console import elapsed_text

display = Display()

RETRY_PAUSE = 3.0       # after a round that could not read the host (libvirtd restarting)
RETRIES = 5

ARGUMENT_SPEC = dict(
    uri=dict(type="str", default="qemu:///system"),
    # each guest as install_batch step=wait takes it (its spec checks the keys)
    guests=dict(type="list", elements="dict", required=True),
    finish=dict(type="bool", default=False),
    locate=dict(type="bool", default=False),
    work_dir=dict(type="path"),
    poll_interval=dict(type="float", default=0.5),
    progress_interval=dict(type="int", default=15),
    tail_lines=dict(type="int", default=20),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname", "?")
        now = int(time.time())
        pending = {}
        for guest in args["guests"]:
            guest = dict(guest)
            if not guest.get("name"):
                result.update(failed=True, msg="every guest needs a name")
                return result
            if guest.get("started") is None:
                guest["started"] = now
            pending[guest["name"]] = guest
        outcomes = {}
        failures_in_a_row = 0
        while pending:
            res = self._execute_module(
                module_name="unattended.virt.install_batch", task_vars=task_vars, wrap_async=False,
                module_args={"step": "wait", "uri": args["uri"], "guests": [pending[n] for n in sorted(pending)],
                             "finish": args["finish"], "locate": args["locate"], "work_dir": args["work_dir"],
                             "wait_seconds": max(1, args["progress_interval"]),
                             "poll_interval": args["poll_interval"], "tail_lines": args["tail_lines"]})
            if res.get("failed"):
                failures_in_a_row += 1
                if failures_in_a_row >= RETRIES:
                    for name in pending:
                        outcomes[name] = {"result": "failed", "console_tail": [], "seconds": None,
                                          "reason": "could not read the guest's state: %s" % res.get("msg")}
                    break
                time.sleep(RETRY_PAUSE)
                continue
            failures_in_a_row = 0
            for item in res.get("guests", []):
                name = item["name"]
                if item["result"] == "installing":
                    display.display("[%s] %s: installing, %s, console: %s" % (
                        host, name, elapsed_text(item.get("elapsed", 0)), item.get("last_line") or "(nothing yet)"))
                    continue
                outcomes[name] = dict((k, item.get(k)) for k in ("result", "reason", "seconds", "console_tail", "finished"))
                outcomes[name].update((k, item[k]) for k in ("macs", "addresses", "address_unknown") if k in item)
                pending.pop(name, None)
                display.display("[%s] %s: %s after %s%s" % (
                    host, name, item["result"], elapsed_text(item.get("seconds") or 0),
                    "" if item["result"] == "installed" else " - " + (item.get("reason") or "")))
        result.update(changed=any(o.get("finished") for o in outcomes.values()), guests=outcomes,
                      installed=sorted(n for n, o in outcomes.items() if o["result"] == "installed"),
                      failed_guests=sorted(n for n, o in outcomes.items() if o["result"] != "installed"))
        return result
