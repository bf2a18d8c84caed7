"""Helpers shared by the unit and integration tests: paths of the rig, real servers on
127.0.0.1 (HTTP with fault injection, FTP), module runners and install-record reading."""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.environ.get("UV_WORK", "/var/tmp/unattended-virt")
FIXTURES = os.environ.get("UV_FIXTURES", os.path.join(WORK, "fixtures"))
# The same per-clone folder as scripts/common.sh: ansible_collections/unattended/virt -> REPO.
COLLECTIONS = os.environ.get("UV_COLLECTIONS") or os.path.join(
    WORK, "collections", hashlib.sha256(REPO.encode()).hexdigest()[:12])
URI = os.environ.get("UV_URI", "qemu:///system")
KERNEL = os.path.join(FIXTURES, "kernel", "vmlinuz")
STANDIN_INITRD = os.path.join(FIXTURES, "standin", "initrd.img")
TREES = os.path.join(FIXTURES, "trees")
DEBIAN_NETBOOT = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"
RECORD_MAGIC = b"UNATTENDED-VIRT-STANDIN-RECORD 1\n"
# The stand-in writes its record into the gap between the MBR and the first partition (1 MiB) of
# the system it installs, so that the disk stays bootable (tests/fixtures/standin/init).
RECORD_OFFSET = 512 * 1024


def test_driver():
    """A connection to libvirt's test:///default driver as it starts: its "test" domain, network
    "default" and pool "default-pool", nothing else. The driver is one per process while any
    connection to it is open, so a connection an earlier test left for the garbage collector
    would carry that test's domains and volumes into this one: they are removed first."""
    import libvirt
    libvirt.registerErrorHandler(lambda *args: None, None)
    conn = libvirt.open("test:///default")
    for dom in conn.listAllDomains():
        if dom.name() != "test":
            if dom.isActive():
                dom.destroy()
            dom.undefine()
    for net in conn.listAllNetworks():
        if net.name() != "default":
            if net.isActive():
                net.destroy()
            net.undefine()
    for pool in conn.listAllStoragePools():
        if pool.name() == "default-pool":
            for vol in pool.listAllVolumes():
                vol.delete(0)
    return conn


def role_defaults(role="guest_install"):
    """A role's defaults/main.yml, each ``<role>_<key>`` under its ``<key>``: what the role hands
    its plan filter (vars/main.yml), so the filter tests use the defaults users get."""
    import yaml
    with open(os.path.join(REPO, "roles", role, "defaults", "main.yml")) as handle:
        values = yaml.safe_load(handle)
    prefix = role + "_"
    return dict((key[len(prefix):], value) for key, value in values.items() if key.startswith(prefix))


def role_entry_options(role, entry):
    """The options of one entry point of a role's meta/argument_specs.yml."""
    import yaml
    with open(os.path.join(REPO, "roles", role, "meta", "argument_specs.yml")) as handle:
        return yaml.safe_load(handle)["argument_specs"][entry]["options"]


def unique_prefix():
    """A prefix for every domain, volume and file one test session creates."""
    return "uvtest-%s-" % uuid.uuid4().hex[:8]


def read_install_record(disk_path):
    """The stand-in installer's record from the 16 KiB at RECORD_OFFSET of a raw disk (a few
    4 KiB blocks: the CPU flags make it longer than one), as a dict, or None when the disk
    carries none."""
    with open(disk_path, "rb") as disk:
        disk.seek(RECORD_OFFSET)
        head = disk.read(16384)
    if not head.startswith(RECORD_MAGIC):
        return None
    record = {}
    for line in head[len(RECORD_MAGIC):].decode("utf-8", "replace").splitlines():
        if line == "END":
            return record
        key, value = line.split("=", 1)
        record[key] = value
    return None


def install_record_of(disk_path, workdir):
    """The stand-in's install record from a qcow2 or raw disk (converted to raw in ``workdir``)."""
    raw = os.path.join(workdir, "record-%d.raw" % time.monotonic_ns())
    # -U: a running guest holds the image lock; reading its first bytes is still safe
    subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", disk_path, raw], check=True, capture_output=True)
    try:
        return read_install_record(raw)
    finally:
        os.unlink(raw)


def console_lines(log_path, prefix="STANDIN:"):
    if not os.path.exists(log_path):
        return []
    with open(log_path, errors="replace") as log:
        return [line.rstrip("\r\n") for line in log if line.startswith(prefix)]


# --------------------------------------------------------------------------- booting guests
def initrd_with(base, files, dest):
    """``base`` + a newc archive of ``files`` ({path in initrd: bytes}) built with cpio(1),
    independently of the collection's own writer.  The kernel reads an uncompressed archive
    only at a 4-byte aligned offset, hence the padding."""
    staging = dest + ".d"
    os.makedirs(staging)
    for name, data in files.items():
        with open(os.path.join(staging, name), "wb") as handle:
            handle.write(data)
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=staging,
                             input="\n".join(files).encode(), capture_output=True, check=True).stdout
    shutil.rmtree(staging)
    with open(base, "rb") as src, open(dest, "wb") as out:
        data = src.read()
        out.write(data + b"\0" * (-len(data) % 4) + archive)


def kernel_boot_xml(name, kernel, initrd, cmdline, log, disk=None, memory_mib=256, network=True,
                    network_name=None):
    """A minimal QEMU (TCG) guest that boots ``kernel`` + ``initrd`` with ``cmdline``, its
    serial console in ``log``: written with lxml, independently of the domain module.  Its
    network card is on user-mode networking, or on the libvirt network ``network_name``."""
    from lxml import etree
    dom = etree.Element("domain", type="qemu")
    etree.SubElement(dom, "name").text = name
    etree.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    etree.SubElement(dom, "vcpu").text = "1"
    os_ = etree.SubElement(dom, "os")
    etree.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    etree.SubElement(os_, "kernel").text = kernel
    etree.SubElement(os_, "initrd").text = initrd
    etree.SubElement(os_, "cmdline").text = cmdline
    etree.SubElement(etree.SubElement(dom, "features"), "acpi")  # without ACPI, poweroff hangs
    for event in ("on_poweroff", "on_reboot", "on_crash"):
        etree.SubElement(dom, event).text = "destroy"
    devices = etree.SubElement(dom, "devices")
    if disk:
        disk_el = etree.SubElement(devices, "disk", type="file", device="disk")
        etree.SubElement(disk_el, "driver", name="qemu", type="raw")
        etree.SubElement(disk_el, "source", file=disk)
        etree.SubElement(disk_el, "target", dev="vda", bus="virtio")
    if network and network_name:
        iface = etree.SubElement(devices, "interface", type="network")
        etree.SubElement(iface, "source", network=network_name)
        etree.SubElement(iface, "model", type="virtio")
    elif network:
        iface = etree.SubElement(devices, "interface", type="user")
        etree.SubElement(iface, "model", type="virtio")
    serial = etree.SubElement(devices, "serial", type="file")
    etree.SubElement(serial, "source", path=log)
    etree.SubElement(serial, "target", port="0")
    etree.SubElement(devices, "memballoon", model="none")
    return etree.tostring(dom, encoding="unicode")


def boot_until_off(conn, xml, timeout):
    """Define ``xml`` (schema-validated by libvirt), start it, wait until it is off, undefine
    it; return the seconds from start to off.  A guest still running at ``timeout`` is
    destroyed and the test fails."""
    import libvirt
    dom = conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    started = time.monotonic()
    try:
        dom.create()
        while dom.isActive():
            if time.monotonic() - started > timeout:
                dom.destroy()
                raise AssertionError("guest still running after %ds" % timeout)
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        dom.undefine()


# --------------------------------------------------------------------------- guest_install
def guest_install_host_vars(uri, root, pool=None, **extra):
    """Variables of one pretend hypervisor host for the guest_install role, reached with a
    local connection, whose cache, work folder and pool all live under ``root``: small TCG
    guests that suit the stand-in installer.  ``extra`` adds or overrides variables."""
    values = {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "guest_install_uri": uri,
        "guest_install_cache_dir": os.path.join(root, "cache"),
        "guest_install_work_dir": os.path.join(root, "work"),
        "guest_install_pool": pool or os.path.basename(root) + "-pool",
        "guest_install_pool_path": os.path.join(root, "pool"),
        "guest_install_memory": 256,
        "guest_install_vcpus": 1,
        "guest_install_disk_size": "16M",
        "guest_install_hypervisor": "qemu",
        "guest_install_interfaces": [{"type": "user"}],
        "guest_install_extra_args": ["panic=-1"],   # a kernel panic ends the guest instead of hanging
        "guest_install_timeout": 300,
        "guest_install_enforce_floors": False,   # the stand-in installer runs in 256 MiB and a 16M disk
        "guest_install_progress_interval": 5,
    }
    values.update(extra)
    return values


# --------------------------------------------------------------------------- HTTP server
class _FaultHandler(SimpleHTTPRequestHandler):
    """Serves files from the server's root, unless a fault is set for the path."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _fault(self):
        return self.server.faults.get(self.path.split("?")[0])

    def do_GET(self):
        self._serve(head=False)

    def do_HEAD(self):
        self._serve(head=True)

    def _serve(self, head):
        self.server.log_request_line(self.command, self.path, self.headers.get("User-Agent", ""))
        fault = self._fault()
        if fault is None:
            if head:
                return super().do_HEAD()
            return super().do_GET()
        kind = fault[0]
        if kind == "status":
            self.send_response(fault[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "redirect":
            self.send_response(302)
            self.send_header("Location", fault[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind in ("reset", "truncate", "stall"):
            path = self.translate_path(self.path)
            with open(path, "rb") as src:
                body = src.read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if kind == "stall":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                time.sleep(fault[1])
                return
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if kind == "reset":  # RST instead of FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
        else:
            raise ValueError("unknown fault %r" % (fault,))

    def copyfile(self, source, outputfile):
        sent = 0
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            outputfile.write(chunk)
            sent += len(chunk)
        self.server.count_bytes(sent)


class FaultHTTPServer(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 serving `root`, with faults set per path:
    set_fault(path, "status", 404) / ("redirect", url) / ("reset",) / ("truncate",) /
    ("stall", seconds).  Counts requests and payload bytes for cache tests."""

    daemon_threads = True

    def __init__(self, root):
        super().__init__(("127.0.0.1", 0), partial(_FaultHandler, directory=root))
        self.root = root
        self.faults = {}
        self.requests = []
        self.agents = []    # (User-Agent, path): a guest's installer is Wget, our modules are not
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/" % self.server_address[1]

    def set_fault(self, path, kind, *args):
        self.faults[path] = (kind,) + args

    def clear(self):
        self.faults.clear()
        with self._lock:
            self.requests = []
            self.agents = []
            self.bytes_sent = 0

    def log_request_line(self, method, path, agent=""):
        with self._lock:
            self.requests.append((method, path))
            self.agents.append((agent, path))

    def count_bytes(self, count):
        with self._lock:
            self.bytes_sent += count

    def stop(self):
        self.shutdown()
        self.server_close()


class _LoginHandler(_FaultHandler):
    """The fixture trees, to a client that sends the server's basic-auth login only."""

    def _serve(self, head):
        import base64
        wanted = "Basic " + base64.b64encode(("%s:%s" % self.server.login).encode()).decode()
        if self.headers.get("Authorization") != wanted:
            self.server.log_request_line(self.command, self.path, "no login")
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="trees"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        super()._serve(head)


def secrets_under(root, in_names, in_contents):
    """(path, "name" or "content") for every name under ``root`` holding one of ``in_names``
    and every file holding one of ``in_contents``."""
    found = []
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = os.path.join(folder, name)
            if any(secret in name for secret in in_names):
                found.append((path, "name"))
            if os.path.isfile(path):
                with open(path, "rb") as handle:
                    data = handle.read()
                if any(secret.encode() in data for secret in in_contents):
                    found.append((path, "content"))
    return found


def login_http_server(root, user, password):
    """A FaultHTTPServer serving ``root`` only to a client with this basic-auth login."""
    server = FaultHTTPServer(root)
    server.login = (user, password)
    server.RequestHandlerClass = partial(_LoginHandler, directory=root)
    return server


# --------------------------------------------------------------------------- FTP server
class FTPServerThread:
    """pyftpdlib serving `root` anonymously, read-only, passive mode, on 127.0.0.1."""

    def __init__(self, root):
        from pyftpdlib.authorizers import DummyAuthorizer
        from pyftpdlib.handlers import FTPHandler
        from pyftpdlib.servers import ThreadedFTPServer

        authorizer = DummyAuthorizer()
        authorizer.add_anonymous(root, perm="elr")
        handler = type("Handler", (FTPHandler,), {"authorizer": authorizer, "banner": "uvtest ftp"})
        self.server = ThreadedFTPServer(("127.0.0.1", 0), handler)
        self.url = "ftp://127.0.0.1:%d/" % self.server.address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
        self._thread.start()

    def stop(self):
        self.server.close_all()


# --------------------------------------------------------------------------- modules
def module_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = COLLECTIONS
    env["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS
    env.setdefault("ANSIBLE_HOST_KEY_CHECKING", "False")
    env["ANSIBLE_NOCOLOR"] = "1"
    # Managed "hosts" in the tests are this machine: their modules need the test venv's
    # libvirt-python and lxml, not whatever python3 interpreter discovery would find.
    env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
    return env


def run_module(name, args, check=False, diff=False, tmpdir=None):
    """Run a module of this collection in a new Python process, the way Ansible does
    (arguments in a JSON file), and return its JSON result.  No Ansible mocks."""
    tmpdir = tmpdir or os.path.join(WORK, "tmp")
    os.makedirs(tmpdir, exist_ok=True)
    payload = dict(args)
    payload["_ansible_check_mode"] = check
    payload["_ansible_diff"] = diff
    payload["_ansible_tmpdir"] = tmpdir
    payload["_ansible_remote_tmp"] = tmpdir
    args_file = os.path.join(tmpdir, "args-%s.json" % uuid.uuid4().hex)
    with open(args_file, "w") as handle:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, handle)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ansible_collections.unattended.virt.plugins.modules." + name, args_file],
            env=module_env(), capture_output=True, text=True, timeout=900, check=False,
        )
    finally:
        os.unlink(args_file)
    try:
        result = json.loads(proc.stdout[proc.stdout.index("{"):])
    except ValueError:
        raise AssertionError("module %s printed no JSON (rc %d):\n%s\n%s" % (name, proc.returncode, proc.stdout, proc.stderr))
    result["_rc"] = proc.returncode
    result["_stderr"] = proc.stderr
    return result


def fleet_summary(stdout, install_time=False):
    """The provision playbook's fleet summary in ``stdout`` as {(host, guest): (result, detail)},
    or with ``install_time`` (result, install time as shown, detail)."""
    import re
    match = re.search(r'TASK \[Summary of the fleet\].*?"msg": \[(.*?)\n    \]\n\}', stdout, re.S)
    assert match, "no fleet summary in the output:\n" + stdout[-4000:]
    rows = {}
    for line in json.loads("[" + match.group(1) + "]")[1:]:
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=4)
        detail = parts[4] if len(parts) > 4 else ""
        rows[(parts[0], parts[1])] = (parts[2], parts[3], detail) if install_time else (parts[2], detail)
    return rows


# The kickstart role's batch entry point (the one guest_install uses), its results written to a file.
KICKSTART_BATCH_PLAYBOOK = """\
- hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Render a batch
      ansible.builtin.include_role:
        name: unattended.virt.kickstart
        tasks_from: batch
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ kickstart_results | to_json }}"
        dest: "%s"
        mode: "0600"
"""


def run_playbook(playbook, *extra, env=None, timeout=1800):
    """ansible-playbook against this collection; returns the CompletedProcess (text)."""
    full_env = module_env()
    full_env.update(env or {})
    ansible_playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    return subprocess.run([ansible_playbook, playbook] + list(extra), env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def have_command(name):
    return shutil.which(name) is not None


# --------------------------------------------------------------------------- HTTPS server
def self_signed_cert(folder, host="127.0.0.1"):
    """A self-signed certificate and key for ``host`` (files in ``folder``), made with the
    `cryptography` package that ansible-core depends on.  Returns (cert path, key path)."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"uvtest untrusted")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


class FaultHTTPSServer(FaultHTTPServer):
    """FaultHTTPServer over TLS with a self-signed certificate no client trusts."""

    def __init__(self, root, cert_dir):
        import ssl
        self.cert, self.key = self_signed_cert(cert_dir)
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl.load_cert_chain(self.cert, self.key)
        super().__init__(root)

    def get_request(self):
        sock, addr = super().get_request()
        sock.settimeout(30)
        try:
            return self._ssl.wrap_socket(sock, server_side=True), addr
        except OSError:  # a client that refused our certificate: serve nothing
            sock.close()
            raise

    @property
    def url(self):
        return "https://127.0.0.1:%d/" % self.server_address[1]
