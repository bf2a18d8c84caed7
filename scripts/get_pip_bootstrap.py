"""Bootstrap pip in a new virtualenv, for ansible-test.

ansible-test installs pip into the virtualenvs it creates with a get-pip.py script that it
downloads from a host outside the package registries, which this network cannot reach.
scripts/test.sh puts this file where ansible-test caches that script.  It does the same job:
it runs pip straight from the pip wheel that ensurepip ships (Debian keeps it in
/usr/share/python-wheels) to install exactly what ansible-test asked for from PyPI, and no
setuptools or wheel unless asked.
"""
import glob
import os
import subprocess
import sys

import ensurepip

PLACES = [os.path.join(os.path.dirname(ensurepip.__file__), "_bundled"), "/usr/share/python-wheels"]
WHEELS = sorted(path for place in PLACES for path in glob.glob(os.path.join(place, "pip-*.whl")))
if not WHEELS:
    sys.exit("no pip wheel found in %s (Debian: apt-get install python3-venv)" % ", ".join(PLACES))
REQUESTED = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, os.path.join(WHEELS[-1], "pip"), "install",
                          "--disable-pip-version-check", "-q"] + REQUESTED))
