# nethook: development, test and install recipes (GNU make, POSIX sh recipes).
#
#   make test                        tox's lint, type, py3 and debian12 envs
#   make test TOXARGS='-e py3' ARGS='-k netns -x'    ARGS go to pytest
#   make install DESTDIR=/tmp/root   the non-Python files, for packaging
#   make packages                    the .deb and the .rpm in dist/, lint-checked
#   make packages-test               install the .deb on this machine, test it, purge it

PYTHON     ?= /usr/bin/python3
VENV       ?= .venv
PREFIX     ?= /usr
SYSCONFDIR ?= /etc
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
TOXARGS    ?=
ARGS       ?=
# Only as words on tox's command line: tox reads TOX<OPTION> from the environment.
unexport TOXARGS ARGS

TOX   = $(VENV)/bin/tox
STAMP = $(VENV)/.nethook-deps
# ansible-core, for the checks of examples/ansible: a venv of its own, made once.
ANSIBLE_VENV  ?= .venv-ansible
ANSIBLE_STAMP  = $(ANSIBLE_VENV)/.nethook-deps

# What the tests run: ip, dhclient, dnsmasq, ntpd, ifup, ping, unshare/mount, sysctl,
# xinetd, and a systemd user manager on a private dbus-daemon (the services tests),
# NetworkManager, systemd-networkd and their dispatchers (the watcher's end-to-end tests).
# chrony's libraries are here too: chrony itself conflicts with ntpsec, so it is only
# unpacked (DEBIAN_UNPACKED, into LAB_DEBS) and its chronyd run from there.
DEBIAN_PACKAGES = iproute2 python3-venv isc-dhcp-client dnsmasq ntpsec ifupdown \
                  iputils-ping util-linux procps xinetd systemd dbus-daemon \
                  network-manager dnsmasq-base networkd-dispatcher \
                  libcap2 libedit2 libgnutls30 libnettle8 libseccomp2
DEBIAN_UNPACKED = chrony
LAB_DEBS = .lab/debs

# The non-Python files `make install` installs, as source:destination:mode.
# A listed source that is missing fails the install; a new file is one more
# line here, and one in rpm/nethook.spec's %files (rpmbuild fails on a file
# installed but not listed there; the .deb takes everything installed).
INSTALL_FILES =
INSTALL_FILES += hooks/dhclient-enter-hooks.d/nethook:$(SYSCONFDIR)/dhcp/dhclient-enter-hooks.d/nethook:0644
INSTALL_FILES += hooks/dhclient-exit-hooks.d/nethook:$(SYSCONFDIR)/dhcp/dhclient-exit-hooks.d/nethook:0644
INSTALL_FILES += hooks/dhclient.d/nethook.sh:$(SYSCONFDIR)/dhcp/dhclient.d/nethook.sh:0755
INSTALL_FILES += hooks/if-up.d/nethook:$(SYSCONFDIR)/network/if-up.d/nethook:0755
INSTALL_FILES += hooks/NetworkManager/50-nethook:$(PREFIX)/lib/NetworkManager/dispatcher.d/50-nethook:0755
INSTALL_FILES += hooks/networkd-dispatcher/50-nethook:$(PREFIX)/lib/networkd-dispatcher/routable.d/50-nethook:0755
INSTALL_FILES += hooks/rt_protos.d/nethook.conf:$(SYSCONFDIR)/iproute2/rt_protos.d/nethook.conf:0644
INSTALL_FILES += etc/nethook.yaml:$(SYSCONFDIR)/nethook/nethook.yaml:0644
INSTALL_FILES += man/nethook.8:$(MANDIR)/man8/nethook.8:0644
INSTALL_FILES += man/nethook.yaml.5:$(MANDIR)/man5/nethook.yaml.5:0644
INSTALL_FILES += hooks/systemd/nethook-watch.service:$(SYSTEMDUNITDIR)/nethook-watch.service:0644
# The JSON Schemas of the --json documents (nethook(8), JSON OUTPUT).
INSTALL_FILES += schemas/apply.schema.json:$(DATADIR)/nethook/schemas/apply.schema.json:0644
INSTALL_FILES += schemas/check.schema.json:$(DATADIR)/nethook/schemas/check.schema.json:0644
INSTALL_FILES += schemas/doctor.schema.json:$(DATADIR)/nethook/schemas/doctor.schema.json:0644
INSTALL_FILES += schemas/error.schema.json:$(DATADIR)/nethook/schemas/error.schema.json:0644
INSTALL_FILES += schemas/import.schema.json:$(DATADIR)/nethook/schemas/import.schema.json:0644
INSTALL_FILES += schemas/metrics.schema.json:$(DATADIR)/nethook/schemas/metrics.schema.json:0644
INSTALL_FILES += schemas/plan.schema.json:$(DATADIR)/nethook/schemas/plan.schema.json:0644
INSTALL_FILES += schemas/replay.schema.json:$(DATADIR)/nethook/schemas/replay.schema.json:0644
INSTALL_FILES += schemas/snapshot.schema.json:$(DATADIR)/nethook/schemas/snapshot.schema.json:0644
INSTALL_FILES += schemas/status.schema.json:$(DATADIR)/nethook/schemas/status.schema.json:0644

.PHONY: help deps debian-deps ansible-deps lab-debs test lint type demo bench install clean \
        packages deb rpm packaging-deps check-versions packages-test

help:
	@echo 'targets: deps test lint type demo bench install clean'
	@echo '         packages deb rpm check-versions packages-test'

deps: debian-deps lab-debs $(STAMP)

debian-deps:
	@sh .ci/debian-deps $(DEBIAN_PACKAGES)

lab-debs: debian-deps
	@sh .ci/debian-unpack $(LAB_DEBS) $(DEBIAN_UNPACKED)

# The venv uses Debian's python, not whatever python3 is first on PATH.
$(STAMP): setup.cfg pyproject.toml | debian-deps
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q 'tox>=4,<5' -e .
	touch $@

$(ANSIBLE_STAMP): examples/ansible/requirements.txt | debian-deps
	$(PYTHON) -m venv $(ANSIBLE_VENV)
	$(ANSIBLE_VENV)/bin/pip install -q -r examples/ansible/requirements.txt
	touch $@

ansible-deps: $(ANSIBLE_STAMP)

test: deps ansible-deps
	NETHOOK_REQUIRE_NETNS=1 NETHOOK_ANSIBLE_PLAYBOOK=$(abspath $(ANSIBLE_VENV))/bin/ansible-playbook \
		$(TOX) $(TOXARGS) $(if $(ARGS),-- $(ARGS))

lint: deps
	$(TOX) -e lint

type: deps
	$(TOX) -e type

# Real dnsmasq and dhclient in throw-away namespaces (demo/demo.py says what it shows).
demo: deps
	PYTHONPATH=$(CURDIR) $(VENV)/bin/python demo/demo.py

bench: deps
	$(VENV)/bin/python bench/run.py

install:
	@set -e; for entry in $(INSTALL_FILES); do \
		src=$${entry%%:*}; mode=$${entry##*:}; dest=$${entry#*:}; dest=$${dest%:*}; \
		echo "install -D -m $$mode $$src $(DESTDIR)$$dest"; \
		install -D -m "$$mode" "$$src" "$(DESTDIR)$$dest"; \
	done

# Packages. Both are built from a copy of the files git tracks, as they are in the
# working tree (uncommitted edits included, untracked files never), in build/packages;
# the results land in $(DIST). debian/rules and rpm/nethook.spec install the
# non-Python files with `make install` above.
DIST ?= dist
PACKAGING_DEBIAN_PACKAGES = debhelper dh-python pybuild-plugin-pyproject python3-all \
                            python3-setuptools python3-pyroute2 python3-yaml \
                            python3-dbus-next python3-pytest python3-jsonschema \
                            python3-prometheus-client dpkg-dev lintian \
                            rpm rpmlint python3-build python3-installer

packaging-deps:
	@sh .ci/debian-deps $(PACKAGING_DEBIAN_PACKAGES)

check-versions:
	@sh .ci/check-versions

packages: deb rpm

deb: packaging-deps check-versions
	bash .ci/build-package deb $(DIST)

rpm: packaging-deps check-versions
	bash .ci/build-package rpm $(DIST)

# Installs the .deb on this machine (its hooks go into /etc/dhcp and the other
# callers' directories), tests it and purges it again, even when a check fails.
# What the kernel tests need beside the package: debian/tests/control's Depends.
# Ansible's apt module needs python3-apt on the managed host: here, this one. pyroute2 is
# the kernel tests' oracle (tests/contract), not the package's dependency.
PACKAGE_TEST_DEBIAN_PACKAGES = iproute2 procps python3-pyroute2 python3-pytest python3-apt

packages-test: packages ansible-deps
	@sh .ci/debian-deps $(PACKAGE_TEST_DEBIAN_PACKAGES)
	NETHOOK_ANSIBLE_PLAYBOOK=$(abspath $(ANSIBLE_VENV))/bin/ansible-playbook \
		bash .ci/package-test $(DIST)

clean:
	rm -rf $(VENV) $(ANSIBLE_VENV) .tox build dist src/*.egg-info .pytest_cache .mypy_cache \
		.ruff_cache .lab
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
