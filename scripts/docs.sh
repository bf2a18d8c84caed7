#!/usr/bin/env bash
# `make docs`: build the collection's docs site (module/role/filter reference from the code,
# plus the guides of docs/docsite/) with antsibull-docs and Sphinx, into
# $UV_WORK/docs-build/build/html.  Offline: no intersphinx inventories are fetched.
# A plugin whose documentation does not parse fails the build; UV_DOCS_LENIENT=1 renders an
# error page for it instead (to look at the rest while a module is being written).
set -euo pipefail
. "$(dirname "$0")/common.sh"
T0=$SECONDS

"$UV_REPO/scripts/setup.sh"
export PATH="$UV_VENV/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$UV_COLLECTIONS"
"$UV_VENV/bin/pip" install -q --disable-pip-version-check -r "$UV_REPO/requirements-docs.txt"

dest=$UV_WORK/docs-build
rm -rf "$dest"
mkdir -p "$dest"
chmod 700 "$dest"   # antsibull-docs insists on a folder only its owner can write
strict=--fail-on-error
[ "${UV_DOCS_LENIENT:-0}" = 1 ] && strict=""
antsibull-docs sphinx-init --use-current --squash-hierarchy $strict \
  --title "unattended.virt" --project "unattended.virt" \
  --dest-dir "$dest" unattended.virt >/dev/null

# No network here: drop the intersphinx inventories (docs.python.org, docs.ansible.com).
# Labels of the Ansible docs that generated pages link to (configuration settings, common
# return values, ansible.builtin plugins) cannot resolve offline; any other unresolved
# reference fails the build (-W).
cat >> "$dest/conf.py" <<'CONF'

# Added by unattended.virt scripts/docs.sh: build offline.
intersphinx_mapping = {}
nitpick_ignore = [('std:ref', 'ansible_configuration_settings'), ('std:ref', 'common_return_values')]
# M(ansible.builtin.x) in a module's documentation links into the Ansible docs, also offline.
nitpick_ignore_regex = [('std:ref', r'ansible_collections\.ansible\.builtin\..*')]
CONF

bash "$dest/build.sh"
log "docs site: $dest/build/html/index.html ($((SECONDS - T0)) s)"
