"""The decision per guest after an install (module_utils._install.judge): installed only when the guest stopped and its
console shows its success token."""
import pytest

from ansible_collections.unattended.virt.plugins.module_utils._install import clean_lines, elapsed_text, judge

TOKEN = "k3x9"
GOOD_LOG = "STANDIN: running post-install script\r\nUNATTENDED-VIRT-INSTALLED k3x9\r\n[ 5.1] reboot: Power down\r\n"


@pytest.mark.parametrize("state, log, token, elapsed, result, reason", [
    ("running", "", TOKEN, 10, None, None),
    ("paused", "", TOKEN, 10, None, None),
    ("shutoff", GOOD_LOG, TOKEN, 10, "installed", ""),
    ("crashed", GOOD_LOG, TOKEN, 10, "installed", ""),
    ("shutoff", GOOD_LOG.replace("k3x9", "other"), TOKEN, 10, "failed", "without printing the success token"),
    ("shutoff", "[  9.1] x UNATTENDED-VIRT-INSTALLED k3x9 y\n", TOKEN, 10, "installed", ""),
    ("shutoff", "", TOKEN, 10, "failed", "without printing the success token"),
    ("shutoff", None, TOKEN, 10, "failed", "could not be read"),
    ("shutoff", "anything", "", 10, "installed", ""),              # confirm_token off
    (None, "", TOKEN, 10, "failed", "disappeared"),
    ("running", "still going", TOKEN, 700, "failed", "timeout 600s"),
])
def test_judge(state, log, token, elapsed, result, reason):
    outcome = judge(state, log, token, elapsed, 600)
    if result is None:
        assert outcome is None
    else:
        assert outcome["result"] == result
        assert reason in outcome["reason"]


def test_token_must_be_the_whole_word():
    # A longer token that merely starts with ours does not count.
    outcome = judge("shutoff", "UNATTENDED-VIRT-INSTALLED k3x9999\n", "k3x9", 5, 600)
    assert outcome["result"] == "failed"


def test_console_tail_is_clean_and_short():
    log = "".join("line %d\r\n" % n for n in range(50)) + "\x1b[0mend\x07\r\n"
    outcome = judge("shutoff", log, "", 5, 600, tail_lines=5)
    assert outcome["console_tail"] == ["line 46", "line 47", "line 48", "line 49", "[0mend"]


@pytest.mark.parametrize("seconds, text", [(0, "0s"), (59, "59s"), (60, "1m00s"), (3725, "1h02m05s")])
def test_elapsed_text(seconds, text):
    assert elapsed_text(seconds) == text


def test_clean_lines_drops_blank_and_control():
    assert clean_lines("a\r\n\r\n\x00b\tc\rd") == ["a", "b\tc", "d"]
