# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait for a batch of guests that are installing, with progress lines on the controller.

Runs on the controller: polls the host with unattended.virt.domain_info (one call for the
whole batch), reads the tail of each finished guest's console log on the host, and decides
per guest: installed (shut off, and the success token is in the log), failed (shut off
without the token, gone, or out of time).  It never changes a guest."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

TOKEN_PREFIX = "UNATTENDED-VIRT-INSTALLED "
ENDED = ("shutoff", "crashed")
TAIL_BYTES = 65536

ARGUMENT_SPEC = dict(
    uri=dict(type="str", default="qemu:///system"),
    guests=dict(type="list", elements="dict", required=True, options=dict(
        name=dict(type="str", required=True),
        console_log=dict(type="str", required=True),
        token=dict(type="str", default="", no_log=False),
        started=dict(type="int"),
        timeout=dict(type="int", default=3600),
        guest=dict(type="raw"),
        metadata=dict(type="raw"),
    )),
    poll_interval=dict(type="float", default=3.0),
    progress_interval=dict(type="int", default=15),
    tail_lines=dict(type="int", default=20),
)


def elapsed_text(seconds):
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return "%dh%02dm%02ds" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)
    if seconds >= 60:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%ds" % seconds


def clean_lines(text):
    """Console text as printable lines (escape sequences and carriage returns dropped)."""
    out = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = "".join(ch for ch in raw if ch == "\t" or 32 <= ord(ch) < 127 or ord(ch) > 159)
        line = line.strip()
        if line:
            out.append(line)
    return out


def judge(state, log_text, token, elapsed, timeout, tail_lines=20):
    """The outcome of one guest, or None while it is still installing.

    ``state`` is domain_info's state (None when the domain is gone); ``log_text`` the tail of
    its console log (None when it could not be read); ``token`` '' when not confirmed."""
    lines = clean_lines(log_text or "")
    tail = lines[-tail_lines:]
    if state is None:
        return {"result": "failed", "reason": "the domain disappeared while installing", "console_tail": tail}
    if state in ENDED:
        if not token:
            return {"result": "installed", "reason": "", "console_tail": tail}
        if log_text is None:
            return {"result": "failed", "reason": "the installer stopped and its console log could not be read",
                    "console_tail": []}
        marker = re.compile(r"(^|\s)%s%s(\s|$)" % (re.escape(TOKEN_PREFIX), re.escape(token)))
        if any(marker.search(line) for line in lines):
            return {"result": "installed", "reason": "", "console_tail": tail}
        return {"result": "failed", "console_tail": tail,
                "reason": "the installer stopped (%s) without printing the success token: the install did not "
                          "finish, or the answer file lacks the token step" % state}
    if elapsed > timeout:
        return {"result": "failed", "console_tail": tail,
                "reason": "still %s after %s (timeout %ds): left as it is" % (state, elapsed_text(elapsed), timeout)}
    return None


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = True

    def _tail(self, path, size):
        cmd = "tail -c %d -- %s" % (size, shlex.quote(path))
        res = self._low_level_execute_command(cmd, sudoable=True)
        if res.get("rc") != 0:
            return None
        return res.get("stdout", "")

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        del validation
        host = task_vars.get("inventory_hostname", "?")
        now = time.time()
        pending = {}
        for guest in args["guests"]:
            guest = dict(guest)
            if guest.get("started") is None:
                guest["started"] = int(now)
            pending[guest["name"]] = guest
        outcomes = {}
        last_progress = time.time()
        failures_in_a_row = 0
        while pending:
            info = self._execute_module(module_name="unattended.virt.domain_info",
                                        module_args={"uri": args["uri"], "names": sorted(pending)},
                                        task_vars=task_vars, wrap_async=False)
            if info.get("failed"):
                failures_in_a_row += 1
                if failures_in_a_row >= 5:
                    for name in pending:
                        outcomes[name] = {"result": "failed", "console_tail": [], "seconds": None,
                                          "reason": "could not read the guest's state: %s" % info.get("msg")}
                    break
                time.sleep(args["poll_interval"])
                continue
            failures_in_a_row = 0
            states = dict((d["name"], d.get("state")) for d in info.get("domains", []))
            now = time.time()
            for name in sorted(pending):
                guest = pending[name]
                state = states.get(name)
                elapsed = now - guest["started"]
                log_text = self._tail(guest["console_log"], TAIL_BYTES) if state in ENDED or state is None \
                    or elapsed > guest["timeout"] else ""
                outcome = judge(state, log_text, guest["token"], elapsed, guest["timeout"], args["tail_lines"])
                if outcome is None:
                    continue
                outcome["seconds"] = int(round(elapsed))
                outcomes[name] = outcome
                del pending[name]
                display.display("[%s] %s: %s after %s%s" % (
                    host, name, outcome["result"], elapsed_text(elapsed),
                    "" if outcome["result"] == "installed" else " - " + outcome["reason"]))
            if not pending:
                break
            if now - last_progress >= args["progress_interval"]:
                last_progress = now
                for name in sorted(pending):
                    guest = pending[name]
                    last = clean_lines(self._tail(guest["console_log"], 2048) or "")
                    display.display("[%s] %s: installing, %s, console: %s" % (
                        host, name, elapsed_text(now - guest["started"]),
                        last[-1][:120] if last else "(nothing yet)"))
            time.sleep(args["poll_interval"])
        result.update(changed=False, guests=outcomes,
                      installed=sorted(n for n, o in outcomes.items() if o["result"] == "installed"),
                      failed_guests=sorted(n for n, o in outcomes.items() if o["result"] != "installed"))
        return result
