# nethook: development, test and install recipes (GNU make, POSIX sh recipes).
#
#   make test                        tox's lint, type, py3 and debian12 envs
#   make test TOXARGS='-e py3' ARGS='-k netns -x'    ARGS go to pytest
#   make install DESTDIR=/tmp/root   the non-Python files, for packaging

PYTHON     ?= /usr/bin/python3
VENV       ?= .venv
PREFIX     ?= /usr
SYSCONFDIR ?= /etc
DESTDIR    ?=
TOXARGS    ?=
ARGS       ?=
# Only as words on tox's command line: tox reads TOX<OPTION> from the environment.
unexport TOXARGS ARGS

TOX   = $(VENV)/bin/tox
STAMP = $(VENV)/.nethook-deps

# What the tests run: ip, dhclient, dnsmasq, ntpd, ifup, ping, unshare/mount, sysctl.
DEBIAN_PACKAGES = iproute2 python3-venv isc-dhcp-client dnsmasq ntpsec ifupdown \
                  iputils-ping util-linux procps

# The non-Python files `make install` installs, as source:destination:mode.
# A listed source that is missing fails the install; a new file is one more
# line (uncomment etc/nethook.yaml's when it lands in the tree).
INSTALL_FILES =
INSTALL_FILES += hooks/dhclient-enter-hooks.d/nethook:$(SYSCONFDIR)/dhcp/dhclient-enter-hooks.d/nethook:0644
INSTALL_FILES += hooks/dhclient-exit-hooks.d/nethook:$(SYSCONFDIR)/dhcp/dhclient-exit-hooks.d/nethook:0644
INSTALL_FILES += hooks/dhclient.d/nethook.sh:$(SYSCONFDIR)/dhcp/dhclient.d/nethook.sh:0755
INSTALL_FILES += hooks/if-up.d/nethook:$(SYSCONFDIR)/network/if-up.d/nethook:0755
INSTALL_FILES += hooks/NetworkManager/50-nethook:$(PREFIX)/lib/NetworkManager/dispatcher.d/50-nethook:0755
INSTALL_FILES += hooks/networkd-dispatcher/50-nethook:$(PREFIX)/lib/networkd-dispatcher/routable.d/50-nethook:0755
INSTALL_FILES += hooks/rt_protos.d/nethook.conf:$(SYSCONFDIR)/iproute2/rt_protos.d/nethook.conf:0644
# INSTALL_FILES += etc/nethook.yaml:$(SYSCONFDIR)/nethook/nethook.yaml:0644

.PHONY: help deps debian-deps test lint type demo bench install clean

help:
	@echo 'targets: deps test lint type demo bench install clean'

deps: debian-deps $(STAMP)

debian-deps:
	@sh .ci/debian-deps $(DEBIAN_PACKAGES)

# The venv uses Debian's python, not whatever python3 is first on PATH.
$(STAMP): setup.cfg pyproject.toml | debian-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'tox>=4,<5' -e .
	touch $@

test: deps
	NETHOOK_REQUIRE_NETNS=1 $(TOX) $(TOXARGS) $(if $(ARGS),-- $(ARGS))

lint: deps
	$(TOX) -e lint

type: deps
	$(TOX) -e type

demo: deps
	sh demo/demo.sh

bench: deps
	$(VENV)/bin/python bench/run.py

install:
	@set -e; for entry in $(INSTALL_FILES); do \
		src=$${entry%%:*}; mode=$${entry##*:}; dest=$${entry#*:}; dest=$${dest%:*}; \
		echo "install -D -m $$mode $$src $(DESTDIR)$$dest"; \
		install -D -m "$$mode" "$$src" "$(DESTDIR)$$dest"; \
	done

clean:
	rm -rf $(VENV) .tox build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
