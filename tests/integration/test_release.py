"""Release hygiene: the tarball `ansible-galaxy collection build` makes carries no test or
build clutter, installs into a clean collections path and works from there; the requirement
files (requirements.txt, bindep.txt, meta/execution-environment.yml) agree with what the code
imports and runs."""
import ast
import glob
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
import yaml

import uvtest

pytestmark = pytest.mark.integration

BIN = os.path.dirname(sys.executable)

# Nothing under these may ship: tests, benchmarks, developer scripts, CI, caches.
CLUTTER_PREFIXES = ("tests/", "bench/", "scripts/", ".ci/", ".git/", ".ansible/", ".venv/", "build/",
                    ".pytest_cache/")
CLUTTER_FILES = ("Makefile", "pytest.ini", "requirements-test.txt", "requirements-docs.txt", ".gitignore",
                 ".ansible-lint")

# Import name -> distribution name, for third-party imports of plugins/.
DISTRIBUTIONS = {
    "libvirt": "libvirt-python",
    "lxml": "lxml",
    "jmespath": "jmespath",
    "pycdlib": "pycdlib",
    "pykickstart": "pykickstart",
    "passlib": "passlib",
    "jsonschema": "jsonschema",
    "yaml": "PyYAML",
    "jinja2": "Jinja2",
}
# Ansible itself brings these, so they need no line of their own.
COMES_WITH_ANSIBLE = {"yaml", "jinja2"}

# External commands the plugins run -> the bindep.txt package that provides them (Debian name).
COMMAND_PACKAGES = {
    "nfs-cat": "libnfs-utils",
}
# libvirt-python builds from source: bindep.txt must carry what the build needs.
BUILD_PACKAGES = {"libvirt-python": ["libvirt-dev", "pkg-config", "gcc", "python3-dev"]}


def galaxy():
    with open(os.path.join(uvtest.REPO, "galaxy.yml")) as handle:
        return yaml.safe_load(handle)


def clean_env(home, collections_path):
    """An environment that sees only `collections_path`: not the repo's symlinked copy."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_") and k != "PYTHONPATH"}
    env.update(HOME=home, ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_NOCOLOR="1",
               ANSIBLE_HOST_KEY_CHECKING="False", PATH=BIN + os.pathsep + env.get("PATH", ""))
    return env


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", uvtest.REPO,
                           "--output-path", str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = galaxy()
    path = out / ("%s-%s-%s.tar.gz" % (meta["namespace"], meta["name"], meta["version"]))
    assert path.exists(), os.listdir(str(out))
    return str(path)


@pytest.fixture(scope="module")
def installed(tarball, tmp_path_factory):
    """The tarball installed with ansible-galaxy into an empty collections path."""
    top = tmp_path_factory.mktemp("installed")
    home = top / "home"
    home.mkdir()
    collections = top / "collections"
    env = clean_env(str(home), str(collections))
    proc = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", tarball,
                           "-p", str(collections)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = collections / "ansible_collections" / "unattended" / "virt"
    assert (root / "MANIFEST.json").exists()
    return dict(root=str(root), env=env, top=str(top))


def test_tarball_has_no_clutter(tarball):
    with tarfile.open(tarball) as tar:
        names = [n[2:] if n.startswith("./") else n for n in tar.getnames()]
    clutter = [n for n in names if n.startswith(CLUTTER_PREFIXES) or n in CLUTTER_FILES
               or n.rstrip("/") in {p.rstrip("/") for p in CLUTTER_PREFIXES}
               or "__pycache__" in n or n.endswith((".pyc", ".tar.gz"))]
    assert clutter == [], "development files in the release tarball (add them to build_ignore in galaxy.yml)"
    # ... and everything a user runs is there.
    expected = ["MANIFEST.json", "FILES.json", "README.md", "meta/runtime.yml", "meta/execution-environment.yml",
                "requirements.txt", "bindep.txt", "docs/docsite/extra-docs.yml", "changelogs/changelog.yaml"]
    for pattern in ("plugins/**/*.py", "roles/**/*", "playbooks/*.yml", "docs/**/*.rst"):
        for path in glob.glob(os.path.join(uvtest.REPO, pattern), recursive=True):
            if os.path.isfile(path) and "__pycache__" not in path:
                expected.append(os.path.relpath(path, uvtest.REPO))
    missing = sorted(set(expected) - set(names))
    assert missing == [], "files missing from the release tarball"


def test_installed_collection_runs_a_playbook(installed, tmp_path):
    """A playbook using the installed copy (and nothing else) talks to libvirt's test driver."""
    playbook = tmp_path / "use.yml"
    playbook.write_text("""
- name: Use the installed collection
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the test driver's guests and host
      unattended.virt.domain_info:
        uri: test:///default
        query: "domains[].name"
      register: info

    - name: The test driver's own guest is there
      ansible.builtin.assert:
        that:
          - "'test' in info.query_result"
          - info.host.hypervisor == 'TEST'
          - info is not changed
""")
    env = installed["env"]
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable, str(playbook)],
                          env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "failed=0" in proc.stdout
    # The module really came from the installed tarball, not from the source tree.
    doc = subprocess.run([os.path.join(BIN, "ansible-doc"), "--json", "unattended.virt.domain_info"], env=env,
                         capture_output=True, text=True, check=False)
    assert doc.returncode == 0, doc.stderr
    filename = json.loads(doc.stdout)["unattended.virt.domain_info"]["doc"]["filename"]
    assert os.path.realpath(filename).startswith(os.path.realpath(installed["root"]) + os.sep), filename


def test_installed_collection_ships_its_playbook(installed):
    if not os.path.exists(os.path.join(uvtest.REPO, "playbooks", "provision.yml")):
        pytest.skip("playbooks/provision.yml has not landed yet (issue 6)")
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,",
                           "unattended.virt.provision"], env=installed["env"], cwd=installed["top"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- requirements
def third_party_imports(paths):
    """{top-level module: [files]} of the imports in `paths` that are neither the standard
    library, nor Ansible, nor this collection."""
    found = {}
    for path in paths:
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("ansible", "ansible_collections", "__future__"):
                    continue
                found.setdefault(top, []).append(os.path.relpath(path, uvtest.REPO))
    return found


def requirement_names(path):
    names = set()
    with open(path) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0].lower())
    return names


def plugin_files(*subdirs):
    files = []
    for sub in subdirs:
        files += glob.glob(os.path.join(uvtest.REPO, "plugins", sub, "**", "*.py"), recursive=True)
    return files


def test_requirements_txt_matches_imports():
    imports = third_party_imports(plugin_files(""))
    unknown = sorted(set(imports) - set(DISTRIBUTIONS))
    assert unknown == [], "plugins import modules this test cannot map to a distribution: %s" % {
        k: imports[k] for k in unknown}
    needed = {DISTRIBUTIONS[m].lower() for m in imports if m not in COMES_WITH_ANSIBLE}
    listed = requirement_names(os.path.join(uvtest.REPO, "requirements.txt"))
    assert sorted(needed - listed) == [], "imported by plugins/ but missing from requirements.txt"
    assert sorted(listed - needed) == [], "in requirements.txt but imported by nothing in plugins/"
    # The controller side (filters, action plugins) must also be in what the controller installs.
    controller = third_party_imports(plugin_files("filter", "action", "lookup", "callback"))
    controller_needed = {DISTRIBUTIONS[m].lower() for m in controller if m not in COMES_WITH_ANSIBLE}
    controller_listed = requirement_names(os.path.join(uvtest.REPO, "requirements-controller.txt"))
    assert sorted(controller_needed - controller_listed) == [], "missing from requirements-controller.txt"


def commands_run_by(paths):
    """External commands the code runs: string constants passed to get_bin_path/which/Popen/
    run_command (directly, as a module-level constant, or as the first item of an argv list)."""
    callers = {"get_bin_path", "which", "_which", "Popen", "run", "run_command", "check_call", "check_output"}
    found = set()
    for path in paths:
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        constants = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        constants[target.id] = node.value.value
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if func not in callers:
                continue
            arg = node.args[0]
            if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
                arg = arg.elts[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.Name) and arg.id in constants:
                found.add(constants[arg.id])
    return found


def bindep_packages():
    names = set()
    with open(os.path.join(uvtest.REPO, "bindep.txt")) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(line.split()[0])
    return names


def test_bindep_covers_commands_and_builds():
    commands = commands_run_by(plugin_files("modules", "module_utils"))
    unknown = sorted(commands - set(COMMAND_PACKAGES))
    assert unknown == [], ("plugins run commands with no known package: %s; add them to bindep.txt and "
                           "to COMMAND_PACKAGES here" % unknown)
    packages = bindep_packages()
    missing = sorted(COMMAND_PACKAGES[c] for c in commands if COMMAND_PACKAGES[c] not in packages)
    assert missing == [], "commands the plugins run need these bindep.txt packages"
    listed = requirement_names(os.path.join(uvtest.REPO, "requirements.txt"))
    for dist, build in BUILD_PACKAGES.items():
        if dist in listed:
            assert sorted(set(build) - packages) == [], "building %s needs these bindep.txt packages" % dist


def test_execution_environment_points_at_the_requirement_files():
    with open(os.path.join(uvtest.REPO, "meta", "execution-environment.yml")) as handle:
        ee = yaml.safe_load(handle)
    assert ee["version"] == 3
    deps = ee["dependencies"]
    assert deps["python"] == "requirements.txt"
    assert deps["system"] == "bindep.txt"
    for name in (deps["python"], deps["system"]):
        assert os.path.exists(os.path.join(uvtest.REPO, name)), name
