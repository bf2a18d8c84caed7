#!/usr/bin/env bash
# The test command (`make test`): install what is needed, build the fixtures, start a libvirtd
# if none answers, run ansible-test sanity, the unit tests and the integration tests, and stop
# what it started, by PID, even when a test fails.
#   scripts/test.sh [all|sanity|lint|unit|integration|real|xen|pytest] [sanity targets | pytest arguments...]
set -euo pipefail
. "$(dirname "$0")/common.sh"
what=${1:-all}; shift || true
T0=$SECONDS

"$UV_REPO/scripts/setup.sh"
"$UV_REPO/tests/fixtures/build.sh"
export PATH="$UV_VENV/bin:$PATH" PYTHONPATH="$UV_COLLECTIONS" ANSIBLE_COLLECTIONS_PATH="$UV_COLLECTIONS"

joined_rig=""
cleanup() {
  [ -n "$joined_rig" ] && rig_leave
  return 0
}
trap cleanup EXIT
if [ "$what" != sanity ] && [ "$what" != unit ] && [ "$what" != lint ]; then
  joined_rig=1
  rig_join
fi

sanity() {  # sanity [targets...]: all files, or only those named
  # ansible-test wants a real ansible_collections/unattended/virt folder: test a copy.
  local top dest
  mkdir -p "$UV_WORK"
  top=$(mktemp -d "$UV_WORK/sanity.XXXXXX")
  dest=$top/ansible_collections/unattended/virt
  mkdir -p "$dest"
  rsync -a --delete --exclude=.git --exclude=tests/output --filter=':- .gitignore' "$UV_REPO/" "$dest/"
  # A venv of its own: --requirements pins linters that must not disturb the test venv.
  # (--venv would download pip's bootstrap from a host this network cannot reach.)
  local venv=$UV_WORK/sanity-venv
  if [ ! -x "$venv/bin/ansible-test" ]; then
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check 'ansible-core>=2.19,<2.20'
  fi
  local pip_version
  pip_version=$(sed -n "s/^ *pip='\([0-9.]*\)',$/\1/p" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
  # ansible-test keeps its per-test virtualenvs under ~/.ansible/test: give it a HOME of ours.
  local home=$UV_WORK/ansible-test-home
  mkdir -p "$home/.ansible/test/cache"
  cp "$UV_REPO/scripts/get_pip_bootstrap.py" "$home/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  # One sanity run at a time per UV_WORK: ansible-test's virtualenvs are shared.
  exec 9>"$UV_WORK/sanity.lock"
  flock 9
  (cd "$dest" && git init -q . && git add -A && \
   HOME=$home PATH="$venv/bin:$PATH" PYTHONPATH="" "$venv/bin/ansible-test" sanity --python 3.11 --color no --requirements "$@") || { rm -rf "$top"; flock -u 9; return 1; }
  rm -rf "$top"
  flock -u 9
}

lint() {  # release hygiene: changelog fragments, ansible-lint (production profile), collection docs
  (cd "$UV_REPO" && antsibull-changelog lint && ansible-lint -q && \
   antsibull-docs lint-collection-docs --plugin-docs --skip-rstcheck "$UV_COLLECTIONS/ansible_collections/unattended/virt")
}

run_pytest() {  # pytest exits 5 when it collected nothing: that is a failure here too
  python -m pytest -p no:cacheprovider "$@"
}

case "$what" in
  sanity) sanity "$@" ;;
  lint) lint ;;
  unit) run_pytest tests/unit "$@" ;;
  integration) run_pytest tests/integration "$@" ;;
  real) run_pytest tests/real -s "$@" ;;   # Debian's real installer, its mirror needed (docs/real_installers.md)
  xen) run_pytest tests/xen -s "$@" ;;     # a real Xen nested under QEMU TCG (docs/docsite/rst/xen_lab.rst)
  pytest) run_pytest "$@" ;;
  all)  # every stage runs, so one report shows every failure; any failure fails the command
    failed=()
    sanity || failed+=(sanity)
    log "sanity done at $((SECONDS - T0)) s"
    lint || failed+=(lint)
    log "lint done at $((SECONDS - T0)) s"
    # the slowest tests named at the end: where the suite's time goes, in every CI and newcomer log
    run_pytest --durations=20 tests/unit tests/integration "$@" || failed+=(pytest)
    if [ ${#failed[@]} -gt 0 ]; then
      log "FAILED stages: ${failed[*]} (after $((SECONDS - T0)) s)"
      exit 1
    fi
    ;;
  *) echo "usage: $0 [all|sanity|lint|unit|integration|real|xen|pytest] [pytest args]" >&2; exit 2 ;;
esac
log "done in $((SECONDS - T0)) s"
