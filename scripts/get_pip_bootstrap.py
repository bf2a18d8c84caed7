"""Bootstrap pip in a new virtualenv, for ansible-test.

ansible-test installs pip into the virtualenvs it creates with a get-pip.py script that it
downloads from a host outside the package registries, which this network cannot reach.
scripts/test.sh puts this file where ansible-test caches that script: it does the same job
with the standard library's ensurepip, then installs what ansible-test asked for from PyPI.
"""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"],
                      stdout=subprocess.DEVNULL)
REQUESTED = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"] + REQUESTED))
