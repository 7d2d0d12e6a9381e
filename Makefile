# Builds and installs pgsql-ra the way the Debian package lays it out (issue 15):
#
#   make                       release build of the agent, its man page and
#                              THIRD-PARTY-LICENSES (the linked crates' licence texts)
#   make install DESTDIR=/tmp/root PREFIX=/usr
#   make uninstall             (same DESTDIR/PREFIX)
#   make deb                   the Debian package (scripts/build-deb.sh)
#
# Layout (PREFIX=/usr, the default):
#   $(OCF_ROOT)/resource.d/pgsql-ra/pgsql    the agent (ocf:pgsql-ra:pgsql)
#   $(PREFIX)/sbin/pgsql-ra                  symlink to it, for the command line
#   $(PREFIX)/share/man/man7/ocf_pgsql-ra_pgsql.7   generated from `pgsql-ra meta-data`
#   $(PREFIX)/share/man/man8/pgsql-ra.8      ".so" of the page above, for the command
#   $(PREFIX)/share/doc/pgsql-ra/            README, CHANGELOG, docs/*.md (and LICENSE),
#                                            THIRD-PARTY-LICENSES
# OCF_ROOT stays /usr/lib/ocf whatever PREFIX is: Pacemaker looks for agents there
# (OCF 1.1, "Installation").  LICENSEDIR= (empty) leaves the licence out, for packagers
# whose format carries it elsewhere (Debian: debian/copyright).
#
# Tools: cargo (CARGO), xsltproc (the man page), python3 (THIRD-PARTY-LICENSES),
# install, ln (GNU, for ln -r).

PREFIX ?= /usr
DESTDIR ?=
OCF_ROOT ?= /usr/lib/ocf
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/pgsql-ra
LICENSEDIR ?= $(DOCDIR)
CARGO ?= cargo
CARGO_FLAGS ?= --locked
XSLTPROC ?= xsltproc
PYTHON3 ?= python3
INSTALL ?= install

PROVIDER := pgsql-ra
AGENT := pgsql
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
BIN := $(TARGET_DIR)/release/pgsql-ra
MANPAGE := $(TARGET_DIR)/man/ocf_$(PROVIDER)_$(AGENT).7
THIRD_PARTY := $(TARGET_DIR)/THIRD-PARTY-LICENSES
# The page's date: the last commit's (reproducible), else SOURCE_DATE_EPOCH's, else today.
MAN_DATE := $(shell git -C $(CURDIR) log -1 --format=%cs 2>/dev/null || \
              date -u -d @$${SOURCE_DATE_EPOCH:-$$(date +%s)} +%F)
DOCS := README.md CHANGELOG.md $(wildcard docs/*.md)

.PHONY: all build man third-party install uninstall deb clean-generated

all: build man third-party

build:
	$(CARGO) build --release $(CARGO_FLAGS) -p pgsql-ra-ocf

# The man page is generated from the built agent's meta-data: no hand-written copy.
man: $(MANPAGE)
$(MANPAGE): $(BIN) man/meta-data-to-man.xsl
	@mkdir -p $(dir $@)
	$(BIN) meta-data > $@.xml
	$(XSLTPROC) --nonet --novalid --stringparam provider $(PROVIDER) \
	    --stringparam date "$(MAN_DATE)" man/meta-data-to-man.xsl $@.xml > $@.tmp
	rm -f $@.xml
	mv $@.tmp $@

$(BIN): build

# The licence texts of every crate linked into the agent, from Cargo.lock's resolve
# and the crates' sources that the build unpacked (no network); fails when a
# crate's licence is not an allowed one (scripts/third-party-licenses.py).
third-party: $(THIRD_PARTY)
$(THIRD_PARTY): $(BIN) Cargo.lock scripts/third-party-licenses.py $(wildcard licenses/*)
	$(PYTHON3) scripts/third-party-licenses.py $@

install: $(MANPAGE) $(THIRD_PARTY)
	$(INSTALL) -d $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER) $(DESTDIR)$(SBINDIR) \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)/docs
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$(AGENT)
	ln -sfr $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$(AGENT) $(DESTDIR)$(SBINDIR)/pgsql-ra
	$(INSTALL) -m 0644 $(MANPAGE) $(DESTDIR)$(MANDIR)/man7/
	echo '.so man7/$(notdir $(MANPAGE))' > $(DESTDIR)$(MANDIR)/man8/pgsql-ra.8
	chmod 0644 $(DESTDIR)$(MANDIR)/man8/pgsql-ra.8
	$(INSTALL) -m 0644 README.md CHANGELOG.md $(THIRD_PARTY) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(DOCDIR)/docs/
ifneq ($(LICENSEDIR),)
	$(INSTALL) -d $(DESTDIR)$(LICENSEDIR)
	$(INSTALL) -m 0644 LICENSE $(DESTDIR)$(LICENSEDIR)/
endif

uninstall:
	rm -f $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)/$(AGENT) $(DESTDIR)$(SBINDIR)/pgsql-ra \
	    $(DESTDIR)$(MANDIR)/man7/ocf_$(PROVIDER)_$(AGENT).7 $(DESTDIR)$(MANDIR)/man8/pgsql-ra.8
	-rmdir $(DESTDIR)$(OCF_ROOT)/resource.d/$(PROVIDER)
	rm -rf $(DESTDIR)$(DOCDIR)

deb:
	bash scripts/build-deb.sh

# What the build generates besides cargo's own output (debian/rules clean).
clean-generated:
	rm -f $(MANPAGE) $(MANPAGE).xml $(MANPAGE).tmp $(THIRD_PARTY) $(THIRD_PARTY).tmp
