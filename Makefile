# pyrunc: `make demo` and `make test` work on a fresh Debian 12 machine as root.
SHELL := /bin/bash
# The real interpreter, never a pyenv shim (a shim costs ~90 ms per pyrunc call). Debian's own
# python3 first: it is built with PGO+LTO and links libpython statically, and starts ~1.5-2.5 ms
# faster per call than a default source build with --enable-shared (pyenv's), on every pyrunc call.
PYTHON ?= $(shell for p in /usr/bin/python3 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11); print(sys.executable)' 2>/dev/null && break; done)
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python3
PYRUNC := $(VENV)/bin/pyrunc
BUILD := $(CURDIR)/_build
DEB_PACKAGES := gcc make musl-tools libseccomp-dev libcap-dev busybox-static runc crun \
	containerd iproute2 hyperfine python3 python3-venv python3-dev libc6-dev qemu-system-x86 \
	podman conmon docker.io containernetworking-plugins uidmap iptables \
	catatonit tini
RUNTIME ?= $(PYRUNC)
RUNTIME_NAME ?= $(notdir $(RUNTIME))
CONFORMANCE_ARGS ?=

.PHONY: deps venv install demo test test-unit test-integration conformance conformance-table bench clean \
	test-clients test-cri bench-cri test-robustness fuzz

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# (Re)made when missing or built on another interpreter than $(PYTHON).
venv: deps
	@base=$$(readlink -f $(PYTHON)); \
	if ! grep -qx "executable = $$base" $(VENV)/pyvenv.cfg 2>/dev/null; then \
		echo "creating $(VENV) on $$base"; rm -rf $(VENV) && $(PYTHON) -m venv $(VENV) && \
		$(PY) -m pip install -q --upgrade pip; \
	fi

install: venv
	$(PY) -m pip install -q ".[test]"
	$(PY) tests/install_launcher.py $(VENV)

$(BUILD)/rootfs/bin/busybox:
	tests/mkrootfs.sh $(BUILD)/rootfs

demo: install $(BUILD)/rootfs/bin/busybox
	$(PY) tests/demo.py $(PYRUNC) $(BUILD)

# The whole suite: unit tests, real containers (pyrunc and runc side by side), cgroup v1 on
# this host and v2/systemd in QEMU guests, then the conformance suite against pyrunc.
test: install
	PYRUNC=$(PYRUNC) PYRUNC_SHIM_BIN=$(VENV)/bin/containerd-shim-pyrunc-v1 \
	PYRUNC_SHIM_BACKENDS="$$(command -v runc) $(PYRUNC)" \
	    $(PY) -m pytest -q tests/unit tests/integration tests/shim tests/rootless \
	        tests/security tests/robustness tests/clients tests/cri
	$(MAKE) --no-print-directory conformance RUNTIME=$(PYRUNC) RUNTIME_NAME=pyrunc

# podman 4.3, dockerd 20.10 and ctr driving pyrunc and runc side by side (private daemons)
test-clients: install $(BUILD)/rootfs/bin/busybox
	PYRUNC=$(PYRUNC) $(PY) -m pytest -q tests/clients

# Kubernetes node path: containerd's CRI with the pyrunc, pyrunc-shim and runc handlers
test-cri: install $(BUILD)/rootfs/bin/busybox
	PYRUNC=$(PYRUNC) PYRUNC_SHIM_BIN=$(VENV)/bin/containerd-shim-pyrunc-v1 $(PY) -m pytest -q tests/cri

bench-cri: install $(BUILD)/rootfs/bin/busybox
	PYRUNC=$(PYRUNC) PYRUNC_SHIM_BIN=$(VENV)/bin/containerd-shim-pyrunc-v1 $(PY) tests/cri/bench_cri.py 15

# Faults, races, 1000 lifecycles 8 at a time, and a short fuzzing run (~2 min).
test-robustness: install
	PYRUNC=$(PYRUNC) $(PY) -m pytest -q tests/robustness

# Long fuzzing of config.json: 10,000 hypothesis examples (~30 min), derandomized.
fuzz: install
	PYRUNC=$(PYRUNC) PYRUNC_FUZZ_EXAMPLES=10000 $(PY) -m pytest -q tests/robustness/test_fuzz.py

test-integration: install
	$(PY) -m pytest -q tests/integration

# make conformance RUNTIME=/usr/sbin/runc
# make conformance RUNTIME=/usr/bin/crun CONFORMANCE_ARGS='--wrap conformance/crun-hybrid.sh'
conformance:
	$(PY) -m conformance --runtime $(RUNTIME) --name $(RUNTIME_NAME) \
	    --expected conformance/expected/$(RUNTIME_NAME).txt \
	    --results conformance/results/$(RUNTIME_NAME).json $(CONFORMANCE_ARGS)

conformance-table:
	$(PY) -m conformance table conformance/results/runc.json \
	    conformance/results/crun.json $(wildcard conformance/results/pyrunc.json) \
	    > conformance/RESULTS.md

test-unit: install
	$(PY) -m pytest -q tests/unit

bench: install $(BUILD)/rootfs/bin/busybox
	$(PY) tests/bench.py --pyrunc $(PYRUNC) --rootfs $(BUILD)/rootfs

clean:
	rm -rf $(BUILD) build *.egg-info runtime/pyrunc-init runtime/_native*.so runtime/_seccomp*.so
