# cbt: changed-block tracking for Linux.
#   make              library, CLI (and `make kmod` for the module)
#   make check        scripts/check: installs what it needs, builds, host tests + VM suites
#                     on every supported kernel
#   make unit         libcbt's unit tests (cmocka; also run by make check)
#   make abi-check    libcbt's ABI against the baseline in abi/ (also in check)
#   make check-long   the long VM tests (soak, stress; tests/vm/long-tests); not in check
#   make check-debug  VM suites on a debug kernel (KASAN, lockdep, kmemleak); not in check
#   make check-fresh  scripts/check-fresh: the README's demo command in a fresh Debian 12 chroot
#   make demo         scripts/demo: installs what it needs, builds, the main job in a throwaway VM
#   make install      library, headers, pkg-config file, CLI, man page, writer hook scripts
VERSION := $(shell cat VERSION)
SOVERSION := 1
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
WRITERSDIR ?= $(PREFIX)/share/cbt/writers
# Where udev reads rules, whatever PREFIX is.
UDEVDIR ?= $(or $(shell pkg-config --variable=udevdir udev 2>/dev/null),/usr/lib/udev)
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
CPPFLAGS += -Iinclude -Iinclude/uapi -DCBT_VERSION='"$(VERSION)"'
WARN := -std=c11 -Wall -Wextra -Werror
BLKID_CFLAGS := $(shell pkg-config --cflags blkid)
BLKID_LIBS := $(shell pkg-config --libs blkid)
UUID_CFLAGS := $(shell pkg-config --cflags uuid)
UUID_LIBS := $(shell pkg-config --libs uuid)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka)
# The backup repository (lib/repo.c, chunk.c, pack.c, index.c, point.c): zstd, SHA-256, JSON.
REPO_CFLAGS := $(shell pkg-config --cflags libzstd libcrypto json-c)
REPO_LIBS := $(shell pkg-config --libs libzstd libcrypto json-c)
SCOLS_CFLAGS := $(shell pkg-config --cflags smartcols)
SCOLS_LIBS := $(shell pkg-config --libs smartcols)
COMPLETIONDIR ?= $(or $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null),/usr/share/bash-completion/completions)

LIB_OBJS := lib/libcbt.o lib/snapshot.o lib/debug.o lib/repo.o lib/chunk.o lib/pack.o lib/index.o lib/point.o \
	lib/writer.o \
	lib/backup.o lib/anchor.o
HEADERS := include/libcbt.h include/uapi/cbt_ioctl.h

all: lib/libcbt.so.$(SOVERSION) lib/libcbt.a lib/cbt.pc tools/cbt-snap docs/examples/backup-example \
	docs/examples/writer-example

lib/%.o: lib/%.c lib/internal.h lib/repo.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(UUID_CFLAGS) $(REPO_CFLAGS) -fPIC -c -o $@ $<

lib/libcbt.so.$(SOVERSION): $(LIB_OBJS) lib/libcbt.sym
	$(CC) $(CFLAGS) -shared -Wl,-soname,libcbt.so.$(SOVERSION) \
		-Wl,--version-script=lib/libcbt.sym -o $@ $(LIB_OBJS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)
	ln -sf libcbt.so.$(SOVERSION) lib/libcbt.so

lib/libcbt.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

lib/cbt.pc: lib/cbt.pc.in VERSION
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' $< >$@

CLI_SRCS := tools/cbt-snap.c tools/snapshot-cmd.c tools/cli-util.c tools/cbt-lib.c \
	tools/backup-cmd.c tools/backup-tracked.c
JSONC_CFLAGS := $(shell pkg-config --cflags json-c)
JSONC_LIBS := $(shell pkg-config --libs json-c)
# export to Ceph (cbt-snap export --format rbd-diff)
CLI_SRCS += tools/export-cmd.c tools/rbd-diff.c
# writers (cbt-snap writers, writer run)
CLI_SRCS += tools/writer-cmd.c tools/writer-hooks.c

tools/cbt-snap: $(CLI_SRCS) tools/cli.h tools/backup.h lib/libcbt.so.$(SOVERSION) $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) $(JSONC_CFLAGS) -o $@ $(CLI_SRCS) \
		-Llib -lcbt -Wl,-rpath,'$$ORIGIN/../lib' $(BLKID_LIBS) $(SCOLS_LIBS) $(JSONC_LIBS)

# The requester API's example (docs/libcbt-backup.3), built so it cannot rot;
# tests/vm/85-backup.bats drives it.
docs/examples/backup-example: docs/examples/backup-example.c lib/libcbt.so.$(SOVERSION) $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $< -Llib -lcbt -Wl,-rpath,'$$ORIGIN/../../lib'

# The writer API's example (docs/libcbt-writer.3), built so it cannot rot.
docs/examples/writer-example: docs/examples/writer-example.c lib/libcbt.so.$(SOVERSION) $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $< -Llib -lcbt -Wl,-rpath,'$$ORIGIN/../../lib'

# cbt-snap over canned library answers, for the host tests of its output
# (the repository commands, backup-cmd.c, use the real libcbt: no module).
tests/cbt-snap-fake: $(filter-out tools/cbt-lib.c,$(CLI_SRCS)) tests/host/fake-cbt-lib.c tools/cli.h \
		lib/libcbt.so.$(SOVERSION)
	$(CC) $(CPPFLAGS) -Itools $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) $(JSONC_CFLAGS) -o $@ \
		$(filter %.c,$^) -Llib -lcbt -Wl,-rpath,'$$ORIGIN/../lib' $(BLKID_LIBS) $(SCOLS_LIBS) $(JSONC_LIBS)

tests/ioctl-abuse: tests/ioctl-abuse.c tests/abuse.h lib/libcbt.a $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $< lib/libcbt.a $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

tools/cbt-snap tests/cbt-snap-fake: tools/rbd-diff.h tools/writer-hooks.h

# The rbd diff writer alone, on two image files (tests/host/ceph.bats).
tests/rbd-diff-files: tests/rbd-diff-files.c tools/rbd-diff.c tools/rbd-diff.h
	$(CC) $(CPPFLAGS) -Itools $(WARN) $(CFLAGS) -o $@ tests/rbd-diff-files.c tools/rbd-diff.c

tests/snap-abuse: tests/snap-abuse.c tests/abuse.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $<

# Unit tests of the library's own logic (cmocka): the objects linked with the
# ioctl wrapped by a model of the module. `make unit` runs them (TAP).
tests/unit/test-libcbt: tests/unit/test-libcbt.c $(LIB_OBJS) lib/internal.h $(HEADERS)
	$(CC) $(CPPFLAGS) -Ilib $(WARN) $(CFLAGS) -o $@ $< $(LIB_OBJS) -Wl,--wrap=ioctl \
		$(CMOCKA_LIBS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

# The backup chains' state on disk (lib/anchor.c), in a temporary directory.
tests/unit/test-anchor: tests/unit/test-anchor.c $(LIB_OBJS) lib/internal.h $(HEADERS)
	$(CC) $(CPPFLAGS) -Ilib $(WARN) $(CFLAGS) -o $@ $< $(LIB_OBJS) -Wl,--wrap=fsync \
		$(CMOCKA_LIBS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

# The chunk store and indexes (lib/chunk.c, pack.c, index.c), in a temporary directory.
tests/unit/test-chunk: tests/unit/test-chunk.c $(LIB_OBJS) lib/repo.h $(HEADERS)
	$(CC) $(CPPFLAGS) -Ilib $(WARN) $(CFLAGS) -o $@ $< $(LIB_OBJS) \
		$(CMOCKA_LIBS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

# Writers without a module: path resolution, manifest writers, writer run's hooks.
tests/unit/test-writer: tests/unit/test-writer.c tools/writer-hooks.c tools/writer-hooks.h \
		$(LIB_OBJS) lib/internal.h $(HEADERS)
	$(CC) $(CPPFLAGS) -Ilib -Itools $(WARN) $(CFLAGS) $(JSONC_CFLAGS) -o $@ $< tools/writer-hooks.c \
		$(LIB_OBJS) $(CMOCKA_LIBS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

unit: tests/unit/test-libcbt tests/unit/test-anchor tests/unit/test-writer tests/unit/test-chunk
	CMOCKA_MESSAGE_OUTPUT=TAP tests/unit/test-libcbt
	CMOCKA_MESSAGE_OUTPUT=TAP tests/unit/test-anchor
	CMOCKA_MESSAGE_OUTPUT=TAP tests/unit/test-chunk
	CMOCKA_MESSAGE_OUTPUT=TAP tests/unit/test-writer

# The ABI check: the library built apart (-Og -g, as abi-dumper wants it),
# dumped, and compared with the committed baseline abi/libcbt.dump; fails on
# a removed symbol or a changed type (abi-compliance-checker's verdict).
# `make abi-baseline` records a new baseline (a release that adds symbols).
ABI_DIR ?= .abi
LIB_SRCS := $(LIB_OBJS:.o=.c)
$(ABI_DIR)/libcbt.so.$(SOVERSION): $(LIB_SRCS) lib/internal.h lib/repo.h $(HEADERS) lib/libcbt.sym
	mkdir -p $(ABI_DIR)
	$(CC) $(CPPFLAGS) $(WARN) -O2 -g $(BLKID_CFLAGS) $(UUID_CFLAGS) $(REPO_CFLAGS) -fPIC -shared \
		-Wl,-soname,libcbt.so.$(SOVERSION) -Wl,--version-script=lib/libcbt.sym \
		-o $@ $(LIB_SRCS) $(BLKID_LIBS) $(UUID_LIBS) $(REPO_LIBS)

$(ABI_DIR)/libcbt.dump: $(ABI_DIR)/libcbt.so.$(SOVERSION)
	abi-dumper $< -o $@ -lver $(VERSION) -public-headers include/ -quiet

abi-check: $(ABI_DIR)/libcbt.dump
	abi-compliance-checker -l libcbt -old abi/libcbt.dump -new $< \
		-report-path $(ABI_DIR)/report.html -quiet || \
		{ echo "ABI check: incompatible with abi/libcbt.dump, see $(ABI_DIR)/report.html" >&2; exit 1; }

abi-baseline: $(ABI_DIR)/libcbt.dump
	cp $< abi/libcbt.dump
tests/ioctl-fuzz: tests/ioctl-fuzz.c tests/abuse.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $<

# Writers through the raw ioctls (tests/vm/88-writers.bats).
tests/writer-tool: tests/writer-tool.c tests/abuse.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $<

# Every program the test suites run: scripts/check builds them all, so a VM
# suite never finds one missing on a fresh clone (tests/host/check.bats).
TEST_PROGS := tests/cbt-snap-fake tests/ioctl-abuse tests/rbd-diff-files tests/snap-abuse \
	tests/ioctl-fuzz tests/writer-tool tests/unit/test-libcbt tests/unit/test-anchor tests/unit/test-writer tests/unit/test-chunk
test-programs: $(TEST_PROGS)

kmod:
	$(MAKE) -C kmod $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="W=1 KCFLAGS=-Werror"

# The test module with fault injection (kmod/cbt_fault.h), for the VM suites.
kmod-faults:
	$(MAKE) -C kmod faults $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="W=1 KCFLAGS=-Werror"

sparse:
	$(MAKE) -C kmod $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="C=2 W=1"

# scripts/check and scripts/demo install what they need and build first
# (they are the README's commands, for machines without make).
check:
	scripts/check

check-fresh:
	scripts/check-fresh

# The long VM tests (tests/vm/long-tests), which make check skips.
check-long:
	CBT_LONG=1 scripts/check

# The DKMS VM suite (tests/vm/90-dkms.bats): slow under TCG, not in make check.
check-dkms:
	CBT_SUITES=tests/vm/90-dkms.bats CBT_HOST_SUITES= scripts/check

check-debug: all test-programs
	scripts/check-debug

demo:
	scripts/demo

bench: all kmod
	bench/run-all

# The installed CLI links the installed libcbt.so.1: no run path for the
# system's library directories, LIBDIR's otherwise. cbt.pc is written for
# this PREFIX/LIBDIR (lib/cbt.pc, from `make all`, may have another).
SYSTEM_LIBDIRS := /usr/lib /lib /usr/lib64 /lib64 /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu
INSTALL_RPATH := $(if $(filter $(SYSTEM_LIBDIRS),$(patsubst %/,%,$(LIBDIR))),,-Wl,-rpath,$(LIBDIR))
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/cbt \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man3 \
		$(DESTDIR)$(UDEVDIR)/rules.d
	install -m 0755 lib/libcbt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libcbt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libcbt.so
	install -m 0644 lib/libcbt.a $(DESTDIR)$(LIBDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' \
		lib/cbt.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/cbt.pc
	install -m 0644 include/libcbt.h include/uapi/cbt_ioctl.h $(DESTDIR)$(INCLUDEDIR)/cbt/
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) $(JSONC_CFLAGS) \
		-o $(DESTDIR)$(BINDIR)/cbt-snap $(CLI_SRCS) -Llib -lcbt $(INSTALL_RPATH) $(BLKID_LIBS) $(SCOLS_LIBS) $(JSONC_LIBS)
	install -m 0644 docs/cbt-snap.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/libcbt*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 udev/99-cbt.rules $(DESTDIR)$(UDEVDIR)/rules.d/
	install -D -m 0644 completion/cbt-snap $(DESTDIR)$(COMPLETIONDIR)/cbt-snap
	install -d $(DESTDIR)$(WRITERSDIR)
	install -m 0755 scripts/writers/postgresql scripts/writers/sqlite scripts/writers/mariadb $(DESTDIR)$(WRITERSDIR)/
	install -m 0644 scripts/writers/session.sh $(DESTDIR)$(WRITERSDIR)/

# The DKMS source tree: /usr/src/cbt-$(VERSION), then `dkms install -m cbt -v $(VERSION)`.
DKMS_SRC := $(DESTDIR)/usr/src/cbt-$(VERSION)
dkms-source:
	install -d $(DKMS_SRC)/kmod/probes $(DKMS_SRC)/include/uapi
	install -m 0644 dkms.conf VERSION $(DKMS_SRC)/
	install -m 0644 kmod/*.c kmod/*.h kmod/Kbuild kmod/Makefile $(DKMS_SRC)/kmod/
	install -m 0755 kmod/probe.sh $(DKMS_SRC)/kmod/
	install -m 0644 kmod/probes/*.c $(DKMS_SRC)/kmod/probes/
	install -m 0644 include/uapi/cbt_ioctl.h $(DKMS_SRC)/include/uapi/

clean:
	rm -f lib/*.o lib/*.so* lib/*.a lib/cbt.pc tools/cbt-snap docs/examples/backup-example docs/examples/writer-example \
		$(TEST_PROGS)
	rm -rf .abi
	$(MAKE) -C kmod clean

PHONY_ABI := unit abi-check abi-baseline
.PHONY: check-long $(PHONY_ABI) all test-programs kmod kmod-faults sparse check check-debug check-fresh check-dkms demo bench install dkms-source clean
