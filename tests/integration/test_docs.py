"""The documentation works: every playbook in docs/ (files, and the playbooks embedded in the
guides as captioned YAML blocks) and in playbooks/ passes `ansible-playbook --syntax-check`;
the quickstart's console commands run exactly as written; `ansible-doc` renders every module
and role."""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

import uvtest

pytestmark = pytest.mark.integration

BIN = os.path.dirname(sys.executable)
RST = os.path.join(uvtest.REPO, "docs", "docsite", "rst")
QUICKSTART = os.path.join(RST, "quickstart.rst")


def code_blocks(path):
    """(language, caption, text) of every `.. code-block::` in an RST file."""
    with open(path) as handle:
        lines = handle.read().split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)\.\. code-block::\s*(\S+)\s*$", lines[i])
        if not match:
            i += 1
            continue
        indent, language = len(match.group(1)), match.group(2)
        caption = None
        i += 1
        while i < len(lines) and re.match(r"^\s+:\w[\w-]*:", lines[i]):
            option = re.match(r"^\s+:caption:\s*(.+)$", lines[i])
            if option:
                caption = option.group(1).strip()
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        width = min(len(b) - len(b.lstrip()) for b in body if b.strip())
        blocks.append((language, caption, "\n".join(b[width:] for b in body) + "\n"))
    return blocks


def is_playbook(text):
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return False
    return isinstance(data, list) and data != [] and all(
        isinstance(play, dict) and ("hosts" in play or "import_playbook" in play or "ansible.builtin.import_playbook" in play)
        for play in data)


def embedded_playbooks():
    found = []
    for path in sorted(glob.glob(os.path.join(RST, "*.rst"))):
        for language, caption, text in code_blocks(path):
            if language.startswith("yaml") and is_playbook(text):
                found.append(("%s:%s" % (os.path.basename(path), caption or "block"), text))
    return found


def playbook_files():
    found = []
    for pattern in ("docs/**/*.yml", "docs/**/*.yaml", "playbooks/*.yml", "playbooks/*.yaml"):
        for path in sorted(glob.glob(os.path.join(uvtest.REPO, pattern), recursive=True)):
            with open(path) as handle:
                text = handle.read()
            if is_playbook(text):
                found.append((os.path.relpath(path, uvtest.REPO), text))
    return found


ALL_PLAYBOOKS = embedded_playbooks() + playbook_files()


def test_the_guides_hold_playbooks():
    """Each how-to guide carries a complete playbook (the collection of cases is not empty)."""
    names = [entry[0].split(":")[0] for entry in ALL_PLAYBOOKS]
    for guide in ("howto_network_tree.rst", "howto_iso.rst", "howto_pxe.rst", "fleet.rst", "quickstart.rst"):
        assert guide in names, "no playbook found in %s" % guide


def missing_content(output):
    """Why a syntax check failed for content that has not landed yet, or None."""
    match = re.search(r"couldn't resolve module/action '([\w.]+)'", output)
    if match and match.group(1).startswith("unattended.virt."):
        name = match.group(1).split(".")[-1]
        if not os.path.exists(os.path.join(uvtest.REPO, "plugins", "modules", name + ".py")):
            return "module %s does not exist yet" % match.group(1)
    match = re.search(r"the role '([\w.]+)' was not found", output)
    if match and match.group(1).startswith("unattended.virt."):
        name = match.group(1).split(".")[-1]
        if not os.path.isdir(os.path.join(uvtest.REPO, "roles", name)):
            return "role %s does not exist yet" % match.group(1)
    return None


@pytest.mark.parametrize("name,text", ALL_PLAYBOOKS, ids=[entry[0] for entry in ALL_PLAYBOOKS])
def test_playbook_syntax(name, text, tmp_path):
    path = tmp_path / (re.sub(r"[^\w.-]", "_", name) + ".yml")
    path.write_text(text)
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "-i", "localhost,", str(path)],
                          env=uvtest.module_env(), cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        reason = missing_content(output)
        if reason:
            pytest.skip("%s: %s" % (name, reason))
    assert proc.returncode == 0, output


# --------------------------------------------------------------------------- ansible-doc
MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(uvtest.REPO, "plugins", "modules", "*.py"))
                 if not os.path.basename(p).startswith("_"))
ROLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(uvtest.REPO, "roles", "*"))
               if os.path.isdir(p) and not os.path.basename(p).startswith("_"))


@pytest.mark.parametrize("module", MODULES)
def test_ansible_doc_renders_module(module):
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "unattended.virt." + module], env=uvtest.module_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    for section in ("OPTIONS", "EXAMPLES:", "RETURN VALUES:"):
        assert section in proc.stdout, "ansible-doc of %s has no %s" % (module, section)


@pytest.mark.parametrize("role", ROLES)
def test_ansible_doc_renders_role(role):
    assert os.path.exists(os.path.join(uvtest.REPO, "roles", role, "meta", "argument_specs.yml")), \
        "role %s has no meta/argument_specs.yml" % role
    proc = subprocess.run([os.path.join(BIN, "ansible-doc"), "-t", "role", "unattended.virt." + role],
                          env=uvtest.module_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"ENTRY POINT: \W*main\b", proc.stdout), proc.stdout


# --------------------------------------------------------------------------- quickstart
def quickstart_steps():
    """The quickstart in order: ('file', name, text) for captioned YAML blocks and
    ('run', command) for every `$ ` line of its console blocks."""
    steps = []
    for language, caption, text in code_blocks(QUICKSTART):
        if language == "yaml" and caption:
            steps.append(("file", caption, text))
        elif language == "console":
            for line in text.splitlines():
                if line.startswith("$ "):
                    steps.append(("run", line[2:]))
    return steps


LOGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a user's shell has that the quickstart may need: the way to the package registries.
NETWORK_VARIABLES = re.compile(r"^(PIP_\w+|(https?|no|all|ftp)_proxy|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_(FILE|DIR)"
                               r"|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE)$")


def test_quickstart_commands_run_as_written(tmp_path):
    """A fresh HOME, a copy of the source tree as the working directory, a login shell's
    environment (no virtualenv on PATH, no ANSIBLE_* and no collections path but Ansible's
    default): every command of the quickstart, exactly as written and in one shell session as a
    user types them, succeeds."""
    steps = quickstart_steps()
    commands = [s[1] for s in steps if s[0] == "run"]
    assert commands, "the quickstart has no console commands"
    home = tmp_path / "home"
    home.mkdir()
    checkout = tmp_path / "virt"
    subprocess.run(["rsync", "-a", "--exclude=.git", "--exclude=.ansible", "--exclude=tests/output",
                    "--filter=:- .gitignore", uvtest.REPO + "/", str(checkout) + "/"], check=True)
    for step in steps:
        if step[0] == "file":
            (checkout / step[1]).write_text(step[2])
    env = dict((k, v) for k, v in os.environ.items() if NETWORK_VARIABLES.match(k))
    env.update(HOME=str(home), PATH=LOGIN_PATH, LANG="C.UTF-8", TERM="dumb", ANSIBLE_NOCOLOR="1")
    # One bash, as one terminal: each command echoed, the session stops at the first failure.
    script = "".join("printf '%%s\\n' %s\n%s\n" % (shlex.quote("$ " + c), c) for c in commands)
    proc = subprocess.run(["bash", "-e", "-c", script], cwd=str(checkout), env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=1200, check=False)
    transcript = proc.stdout + proc.stderr
    assert proc.returncode == 0, "a quickstart command failed:\n" + transcript[-8000:]
    assert transcript.count("\n$ ") + transcript.startswith("$ ") == len(commands), transcript[-8000:]
    # The collection the quickstart installed is the one its commands used, with the venv's Ansible.
    assert (home / ".ansible" / "collections" / "ansible_collections" / "unattended" / "virt" / "MANIFEST.json").exists()
    assert (home / ".venvs" / "ansible" / "bin" / "ansible-playbook").exists()
    last = proc.stdout[proc.stdout.rindex("$ "):]
    assert "guests: [" in last and "failed=0" in last, last


def test_quickstart_names_the_current_version():
    with open(os.path.join(uvtest.REPO, "galaxy.yml")) as handle:
        version = yaml.safe_load(handle)["version"]
    with open(QUICKSTART) as handle:
        text = handle.read()
    assert "unattended-virt-%s.tar.gz" % version in text


def test_docs_site_builds_offline():
    """`make docs` (scripts/docs.sh) builds the site; slow-ish (~30 s), so only when asked."""
    if os.environ.get("UV_TEST_DOCS_BUILD") != "1":
        pytest.skip("set UV_TEST_DOCS_BUILD=1 to build the docs site here (make docs does it directly)")
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    proc = subprocess.run(["bash", os.path.join(uvtest.REPO, "scripts", "docs.sh")], capture_output=True, text=True,
                          timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert os.path.exists(os.path.join(uvtest.WORK, "docs-build", "build", "html", "docsite", "quickstart.html"))


def test_guide_playbooks_pass_ansible_lint(tmp_path):
    """The guides' playbooks follow the same rules as the collection's own (production profile)."""
    ansible_lint = os.path.join(BIN, "ansible-lint")
    if not os.path.exists(ansible_lint):
        pytest.skip("ansible-lint is not installed in %s (requirements-test.txt installs it)" % BIN)
    files = []
    for name, text in embedded_playbooks():
        path = tmp_path / (re.sub(r"[^\w.-]", "_", name.replace(".rst", "")))
        path.write_text("---\n" + text)
        files.append(path.name)
    home = tmp_path / "home"
    home.mkdir()
    env = uvtest.module_env()
    env["HOME"] = str(home)  # no collections from ~/.ansible shadowing this tree
    proc = subprocess.run([ansible_lint, "--offline", "--nocolor", "--profile", "production", "-f", "json"] + files,
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600, check=False)
    # Only the guides' own playbooks count here: the roles they include are linted with the
    # collection by `scripts/test.sh lint`.
    try:
        findings = json.loads(proc.stdout or "[]")
    except ValueError:
        raise AssertionError("ansible-lint printed no JSON:\n" + proc.stdout + proc.stderr)
    ours = ["%s:%s %s: %s" % (f["location"]["path"], f["location"].get("lines", {}).get("begin"), f["check_name"],
                              f["description"]) for f in findings if f["location"]["path"] in files]
    assert ours == [], "\n".join(ours)
    assert proc.returncode == 0 or findings, proc.stderr
