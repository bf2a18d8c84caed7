# -*- coding: utf-8 -*-
# Copyright: unattended.virt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sizes of disks and volumes: read from what users write (20G, 1.5GiB, bytes), written back the
same way.  Pure: the controller's filters use it too, without loading libvirt."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from decimal import Decimal, InvalidOperation

from ansible_collections.unattended.virt.plugins.module_utils._errors import InvalidInput

GRAIN = 1024  # libvirt creates qcow2 images in whole KiB (qemu-img create ...K)
MIN_CAPACITY = 1 << 20   # 1 MiB: anything smaller is a mistake ("20" instead of "20G")
MAX_CAPACITY = 1 << 50   # 1 PiB
FORMATS = ("qcow2", "raw")

_UNITS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_SIZE = re.compile(r"^\s*([+-]?[0-9]*\.?[0-9]+)\s*([a-z]*)\s*$", re.IGNORECASE)


def human_size(count):
    """Bytes as the largest binary unit that divides them exactly: 21474836480 -> '20G'."""
    for unit, power in (("P", 5), ("T", 4), ("G", 3), ("M", 2), ("K", 1)):
        if count and count % (1 << (10 * power)) == 0:
            return "%d%s" % (count // (1 << (10 * power)), unit)
    return "%d" % count


def parse_size(value, name="capacity"):
    """A size in bytes from an int (bytes) or a string like ``20G``, ``512M``, ``1T``,
    ``1.5GiB`` or ``4096`` (binary units: K = 1024).  Decimal units (``GB``) are refused
    because they are ambiguous; so are negative, fractional-byte, tiny and absurd sizes."""
    if isinstance(value, bool):
        raise InvalidInput("%s must be a size like 20G or a number of bytes, not a boolean" % name)
    if isinstance(value, int):
        number, unit = Decimal(value), ""
    elif isinstance(value, float):
        number, unit = Decimal(repr(value)), ""
    else:
        text = "%s" % (value,)
        match = _SIZE.match(text)
        if not match:
            raise InvalidInput("%s %r is not a size: use a number with an optional binary unit, "
                               "like 20G, 512M, 1T or 1.5GiB" % (name, text))
        try:
            number = Decimal(match.group(1))
        except InvalidOperation:
            raise InvalidInput("%s %r is not a size" % (name, text))
        unit = match.group(2).lower()
        if unit.endswith("ib") and len(unit) == 3:
            unit = unit[0]
        elif len(unit) == 2 and unit.endswith("b") and unit[0] in _UNITS:
            raise InvalidInput("%s %r uses a decimal unit; sizes here are binary: write %s or %siB"
                               % (name, text, unit[0].upper(), unit[0].upper()),
                               hint="1G is 1024^3 bytes")
        if unit not in _UNITS:
            raise InvalidInput("%s %r has an unknown unit %r: use K, M, G, T or P (binary)"
                               % (name, text, match.group(2)))
    if number < 0:
        raise InvalidInput("%s %s is negative" % (name, value))
    count = number * (1 << (10 * _UNITS[unit]))
    if count != count.to_integral_value():
        raise InvalidInput("%s %s is not a whole number of bytes" % (name, value))
    count = int(count)
    if count < MIN_CAPACITY:
        raise InvalidInput("%s %s is %d bytes, less than 1M" % (name, value, count),
                           hint="Give a unit, like 20G; a plain number counts bytes")
    if count > MAX_CAPACITY:
        raise InvalidInput("%s %s is more than 1P (%d bytes), which no guest disk needs"
                           % (name, value, MAX_CAPACITY))
    return count


def round_to_grain(count):
    """Sizes round up to whole KiB, as libvirt does when it creates a qcow2 image, so that a
    rerun with the same odd number of bytes finds the volume it made."""
    return -(-count // GRAIN) * GRAIN


def unit_factor(unit):
    """Bytes in one unit of a size libvirt writes (unit="KiB", "bytes", "G")."""
    unit = (unit or "bytes").lower()
    if unit in ("b", "bytes"):
        return 1
    if unit.endswith("ib"):
        unit = unit[0]
    return 1 << (10 * _UNITS[unit])
