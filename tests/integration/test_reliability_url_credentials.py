"""Secrets, the media side: a login written in the install location's URL
(``http://user:password@host/tree/``) reaches the server and nothing else.  install_media runs
through ansible-playbook at -vvv against a real HTTP server on 127.0.0.1 that wants basic auth;
its output, the cache's folder and file names and every file in the cache are searched for the
password, in check mode, on a fetch, on a cache hit and on a refused login."""
import json
import os

import pytest

import uvtest

pytestmark = pytest.mark.integration

USER = "carol"
PASSWORD = "Url-Pw#7731:secret"
WRITTEN = "Url-Pw%237731%3Asecret"   # as it must be written inside a URL


@pytest.fixture(scope="module")
def login_server(fixtures):
    server = uvtest.login_http_server(uvtest.TREES, USER, PASSWORD)
    yield server
    server.stop()


PLAYBOOK = """
- name: install media from a tree that wants a login
  hosts: localhost
  gather_facts: false
  tasks:
    - name: fetch
      unattended.virt.install_media:
        location: "{{ media_location }}"
        cache_dir: "{{ media_cache }}"
        arch: x86_64
      register: media
    - name: show it all
      ansible.builtin.debug:
        var: media
    - name: the same tree with a wrong password
      unattended.virt.install_media:
        location: "{{ media_wrong }}"
        cache_dir: "{{ media_cache }}-wrong"
        arch: x86_64
      ignore_errors: true
"""


def leaks(root):
    return uvtest.secrets_under(root, (PASSWORD, WRITTEN, USER), (PASSWORD, WRITTEN))


def test_a_login_in_the_location_never_leaks(login_server, tmp_path):
    cache = str(tmp_path / "cache")
    tree = login_server.url + "fedora/"
    location = tree.replace("http://", "http://%s:%s@" % (USER, WRITTEN))
    playbook = tmp_path / "media.yml"
    playbook.write_text(PLAYBOOK)
    variables = tmp_path / "vars.json"   # the only file that holds the password, outside the cache
    variables.write_text(json.dumps(dict(media_location=location, media_cache=cache,
                                         media_wrong=tree.replace("http://", "http://%s:Wr0ng-pw@" % USER))))

    runs = []
    for extra in (["--check"], [], []):   # check mode, a fetch, a cache hit
        proc = uvtest.run_playbook(str(playbook), "-vvv", "-e", "@" + str(variables), *extra, timeout=300)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0 and "failed=0" in proc.stdout, output[-4000:]
        for secret in (PASSWORD, WRITTEN, "Wr0ng-pw", USER + ":"):
            assert secret not in output, "%r is in the -vvv output" % secret
        runs.append(output)

    check, fetch, hit = runs
    # the URL the user gave is shown without its login, in the results and the echoed arguments
    assert '"location": "%s"' % tree in fetch
    assert "inst.repo=%s" % tree in fetch and "images/pxeboot/vmlinuz" in fetch
    assert "without the login used here" in fetch
    assert "HTTP 401" in fetch and "url_username and url_password" in fetch   # the wrong password, named as such
    assert '"changed": true' in check and '"downloaded_bytes": 0' in hit
    # the login was needed and used: the server answered 401 only to the wrong one
    assert any(agent != "no login" for agent, _path in login_server.agents)
    # no name in the cache carries the login, and no file (sidecars and tree.json included) holds it
    assert os.path.isdir(cache) and leaks(cache) == [] and leaks(cache + "-wrong") == []
    assert not os.path.exists(cache + "-wrong") or not [n for n in os.listdir(cache + "-wrong") if n != ".locks"]
    tmp = os.path.expanduser("~/.ansible/tmp")
    if os.path.isdir(tmp):
        assert leaks(tmp) == []


def test_a_login_in_a_guests_location_never_leaks_from_the_role(login_server, tmp_path, prefix):
    """The guest_install role with the login in a guest's location, at -vvv, in check mode (the
    plan, the fetch task's loop items, the install_batch start records, the summary)."""
    tree = login_server.url + "fedora/"
    root = str(tmp_path / "host")
    guests = [{"name": prefix + "login", "location": tree.replace("http://", "http://%s:%s@" % (USER, WRITTEN))}]
    inventory = tmp_path / "inv.json"
    inventory.write_text(json.dumps({"all": {"hosts": {"local": uvtest.guest_install_host_vars(
        uvtest.URI, root, pool=prefix + "login-pool", guest_install_guests=guests)}}}))
    proc = uvtest.run_playbook("unattended.virt.provision", "-i", str(inventory), "-vvv", "--check", timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "would install" in output, output[-4000:]
    for secret in (PASSWORD, WRITTEN, USER + ":"):
        assert secret not in output, "%r is in the -vvv output" % secret
    assert any(agent != "no login" for agent, _path in login_server.agents)   # the login reached the server
    assert leaks(root) == []
