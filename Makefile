# cbt: changed-block tracking for Linux.
#   make              library, CLI (and `make kmod` for the module)
#   make check        host tests + VM suites on every supported kernel
#   make check-debug  VM suites on a debug kernel (KASAN, lockdep, kmemleak); not in check
#   make demo         the main job inside a throwaway VM
#   make install      library, headers, pkg-config file, CLI, man page
VERSION := $(shell cat VERSION)
SOVERSION := 1
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
UDEVDIR ?= $(PREFIX)/lib/udev/rules.d
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
CPPFLAGS += -Iinclude -Iinclude/uapi -DCBT_VERSION='"$(VERSION)"'
WARN := -std=c11 -Wall -Wextra -Werror
BLKID_CFLAGS := $(shell pkg-config --cflags blkid)
BLKID_LIBS := $(shell pkg-config --libs blkid)
SCOLS_CFLAGS := $(shell pkg-config --cflags smartcols)
SCOLS_LIBS := $(shell pkg-config --libs smartcols)
COMPLETIONDIR ?= $(or $(shell pkg-config --variable=completionsdir bash-completion 2>/dev/null),/usr/share/bash-completion/completions)

LIB_OBJS := lib/libcbt.o lib/snapshot.o
HEADERS := include/libcbt.h include/uapi/cbt_ioctl.h

all: lib/libcbt.so.$(SOVERSION) lib/libcbt.a lib/cbt.pc tools/cbt-snap

lib/%.o: lib/%.c lib/internal.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) -fPIC -c -o $@ $<

lib/libcbt.so.$(SOVERSION): $(LIB_OBJS) lib/libcbt.sym
	$(CC) $(CFLAGS) -shared -Wl,-soname,libcbt.so.$(SOVERSION) \
		-Wl,--version-script=lib/libcbt.sym -o $@ $(LIB_OBJS) $(BLKID_LIBS)
	ln -sf libcbt.so.$(SOVERSION) lib/libcbt.so

lib/libcbt.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

lib/cbt.pc: lib/cbt.pc.in VERSION
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCLUDEDIR@|$(INCLUDEDIR)|; s|@VERSION@|$(VERSION)|' $< >$@

CLI_SRCS := tools/cbt-snap.c tools/snapshot-cmd.c tools/cli-util.c tools/cbt-lib.c

tools/cbt-snap: $(CLI_SRCS) tools/cli.h lib/libcbt.so.$(SOVERSION) $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) -o $@ $(CLI_SRCS) \
		-Llib -lcbt -Wl,-rpath,'$$ORIGIN/../lib' $(BLKID_LIBS) $(SCOLS_LIBS)

# cbt-snap over canned library answers, for the host tests of its output.
tests/cbt-snap-fake: $(filter-out tools/cbt-lib.c,$(CLI_SRCS)) tests/host/fake-cbt-lib.c tools/cli.h
	$(CC) $(CPPFLAGS) -Itools $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) -o $@ \
		$(filter %.c,$^) $(BLKID_LIBS) $(SCOLS_LIBS)

tests/ioctl-abuse: tests/ioctl-abuse.c tests/abuse.h lib/libcbt.a $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $< lib/libcbt.a $(BLKID_LIBS)

tests/snap-abuse: tests/snap-abuse.c tests/abuse.h $(HEADERS)
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -o $@ $<

kmod:
	$(MAKE) -C kmod $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="W=1 KCFLAGS=-Werror"

# The test module with fault injection (kmod/cbt_fault.h), for the VM suites.
kmod-faults:
	$(MAKE) -C kmod faults $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="W=1 KCFLAGS=-Werror"

sparse:
	$(MAKE) -C kmod $(if $(KVER),KVER=$(KVER)) KBUILD_ARGS="C=2 W=1"

check: all kmod kmod-faults tests/ioctl-abuse tests/snap-abuse
	scripts/check

check-debug: all tests/ioctl-abuse tests/snap-abuse
	scripts/check-debug

demo: all kmod
	scripts/demo

bench: all kmod
	bench/run-all

install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)/cbt \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UDEVDIR)
	install -m 0755 lib/libcbt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libcbt.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libcbt.so
	install -m 0644 lib/libcbt.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 lib/cbt.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 0644 include/libcbt.h include/uapi/cbt_ioctl.h $(DESTDIR)$(INCLUDEDIR)/cbt/
	$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(BLKID_CFLAGS) $(SCOLS_CFLAGS) \
		-o $(DESTDIR)$(BINDIR)/cbt-snap $(CLI_SRCS) lib/libcbt.a $(BLKID_LIBS) $(SCOLS_LIBS)
	install -m 0644 docs/cbt-snap.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 udev/99-cbt.rules $(DESTDIR)$(UDEVDIR)/
	install -D -m 0644 completion/cbt-snap $(DESTDIR)$(COMPLETIONDIR)/cbt-snap

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
	rm -f lib/*.o lib/*.so* lib/*.a lib/cbt.pc tools/cbt-snap tests/cbt-snap-fake tests/ioctl-abuse tests/snap-abuse
	$(MAKE) -C kmod clean

.PHONY: all kmod kmod-faults sparse check check-debug demo bench install dkms-source clean
