# The two commands README.md starts with, and the pieces of the test command.
.PHONY: demo demo-clean test test-real test-xen sanity unit integration setup docs bench

demo:
	@bash scripts/demo.sh

demo-clean:
	@bash scripts/demo.sh clean

test:
	@bash scripts/test.sh all

# Debian 12's real installer through the provision playbook (not part of `make test`: it needs
# the Debian mirror and takes minutes; UV_REAL_MIRROR=<url> runs it to the end).
test-real:
	@bash scripts/test.sh real

# A real Xen 4.17 host nested under QEMU TCG (dom0 image cached under the work folder), the seed's
# HVM and PV installs through the provision playbook (not part of `make test`: 20-30 minutes).
test-xen:
	@bash scripts/test.sh xen

sanity:
	@bash scripts/test.sh sanity

unit:
	@bash scripts/test.sh unit

integration:
	@bash scripts/test.sh integration

setup:
	@bash scripts/setup.sh

docs:
	@bash scripts/docs.sh

# Benchmarks against virt-install and community.libvirt (not part of the tests; ~25 min).
bench:
	@bash bench/run_all.sh
