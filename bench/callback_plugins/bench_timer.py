# -*- coding: utf-8 -*-
"""Bench-only Ansible callback: one JSON record per (task, host) with start/end times and
how many times the task's module ran (loop items that ran; skipped ones do not count).
Enabled by bench/common.py with ANSIBLE_CALLBACKS_ENABLED=bench_timer; writes the list to
$BENCH_TIMING_FILE at the end of the playbook.  Not part of the collection."""
from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: bench_timer
type: aggregate
short_description: per-task timings for bench/
description: per-task timings for bench/, written as JSON to $BENCH_TIMING_FILE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.t0 = time.time()
        self.task_start = {}
        self.items = {}
        self.records = []

    def _key(self, result):
        return (result._task._uuid, result._host.get_name())

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task_start[task._uuid] = time.time()

    v2_playbook_on_handler_task_start = v2_playbook_on_task_start

    def _item(self, result, ran):
        key = self._key(result)
        self.items.setdefault(key, [0, 0])
        self.items[key][0 if ran else 1] += 1

    def v2_runner_item_on_ok(self, result):
        self._item(result, True)

    def v2_runner_item_on_failed(self, result):
        self._item(result, True)

    def v2_runner_item_on_skipped(self, result):
        self._item(result, False)

    def _done(self, result, status):
        task = result._task
        key = self._key(result)
        ran, skipped = self.items.pop(key, (None, None))
        if ran is None:
            ran = 0 if status == "skipped" else 1
        start = self.task_start.get(task._uuid, self.t0)
        self.records.append({"task": task.get_name(), "action": task.action, "host": key[1],
                             "start": start - self.t0, "end": time.time() - self.t0,
                             "status": status, "runs": ran})

    def v2_runner_on_ok(self, result):
        self._done(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._done(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._done(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._done(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TIMING_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"total": time.time() - self.t0, "tasks": self.records}, handle)
