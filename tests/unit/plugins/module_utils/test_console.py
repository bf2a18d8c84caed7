"""What a person watching a guest's serial console would read from it: the lines of a
line-based installer, and the dialog titles of a full-screen one (d-i's newt frontend).  The
d-i samples are bytes a real Debian 12 installer wrote to its serial console here (gzip'd, so that
their carriage returns stay as they were)."""
import gzip
import os

import pytest

from ansible_collections.unattended.virt.plugins.module_utils._console import (
    clean_lines, dialog_titles, last_meaningful_line)

DATA = os.path.join(os.path.dirname(__file__), "data", "console")


def sample(name):
    # gzip'd: the bytes as the serial port gave them, carriage returns included
    with gzip.open(os.path.join(DATA, name + ".gz"), "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def test_plain_lines_keep_their_text():
    assert clean_lines("a\r\n\r\n\x00b\tc\rd") == ["a", "b\tc", "d"]
    assert last_meaningful_line("Starting installer\r\nReading tree\r\n") == "Reading tree"


@pytest.mark.parametrize("raw, line", [
    ("\x1b[0m\x1b[1;37mbold\x1b[0m text", "bold text"),        # colours
    ("\x1b]0;title\x07after", "after"),                         # OSC window title
    ("\x1b(0lqqqk\x1b(B", ""),                                 # box drawing only
    ("\x1b[23B\x1b[0mdone", "done"),                            # the sequences issue 18 saw
])
def test_escape_sequences_never_reach_a_line(raw, line):
    assert last_meaningful_line(raw) == line
    assert all("\x1b" not in text and "[0m" not in text for text in clean_lines(raw))


def test_cursor_moves_split_text_drawn_elsewhere():
    assert clean_lines("left\x1b[5;3Hright") == ["left", "right"]


def test_d_i_progress_box_gives_its_title():
    text = sample("d-i-progress.log")
    assert dialog_titles(text) == ["Loading additional components"]
    assert last_meaningful_line(text) == "Loading additional components"


def test_d_i_error_dialog_gives_its_title_not_the_help_line():
    text = sample("d-i-download-error.log")
    assert "<Tab> moves; <Space> selects; <Enter> activates buttons" in clean_lines(text)
    assert last_meaningful_line(text) == "[!!] Download installer components"


def test_the_latest_box_wins():
    both = sample("d-i-progress.log") + sample("d-i-download-error.log")
    assert dialog_titles(both) == ["Loading additional components", "[!!] Download installer components"]
    assert last_meaningful_line(both) == "[!!] Download installer components"
