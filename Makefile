# The two commands README.md starts with, and the pieces of the test command.
.PHONY: demo demo-clean test test-real sanity unit integration setup docs bench

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
