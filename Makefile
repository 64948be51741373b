# passtd - build, test, install. GNU make only; no other build system.

CC	?= gcc
PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DESTDIR	?=
VERSION	:= $(shell git describe --always --dirty 2>/dev/null || echo 0.1)

CFLAGS	?= -O2 -g
# Always applied, even when CFLAGS is given on the command line
BASE_CFLAGS := -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE \
	       -DPASSTD_VERSION='"$(VERSION)"'
LDLIBS	?=

SRCS	:= $(filter-out passtd.c,$(wildcard *.c))
OBJS	:= $(SRCS:.c=.o)
HDRS	:= $(wildcard *.h)
UNIT_SRCS := $(wildcard test/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:.c=)

.PHONY: all deps run check unit bench install uninstall clean

all: passtd pasta passt

%.o: %.c $(HDRS)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

# The checksum loop is the hot spot of the data path: let it vectorise
checksum.o: CFLAGS += -O3

libpasstd.a: $(OBJS)
	$(AR) rcs $@ $^

passtd: passtd.o libpasstd.a
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)

pasta passt: passtd
	ln -sf passtd $@

test/unit/%_test: test/unit/%_test.c libpasstd.a $(HDRS) test/unit/unit.h
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -I. -o $@ $< libpasstd.a $(LDLIBS)

TOOLS	:= test/tools/frame_inject test/tools/tcp_stream test/tools/udp_stream test/tools/stream_client test/tools/vm_bench

# Helpers shared by the tools that use them: linked into each of those
TOOL_COMMON := test/tools/tool_common.c
TOOLS_COMMON := test/tools/tcp_stream test/tools/udp_stream \
		test/tools/stream_client test/tools/vm_bench

$(TOOLS_COMMON): test/tools/%: test/tools/%.c $(TOOL_COMMON) \
		 test/tools/tool_common.h
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $< $(TOOL_COMMON)

test/tools/%: test/tools/%.c
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

unit: $(UNIT_BINS)

# Debian packages the build and the tests need: installs only what is
# missing, non-interactively.
deps:
	@sh test/lib/deps.sh

run: deps all
	./passtd --config-net

check: deps all unit $(TOOLS)
	@bash test/run.sh

bench: deps all
	@bash test/perf/bench.sh

# Mixed load on one daemon for SOAK_S seconds, then resources back to
# their start (test/soak.sh); not part of check
SOAK_S	?= 600
.PHONY: soak
soak: deps all $(TOOLS)
	@SOAK_S=$(SOAK_S) TEST_TIMEOUT=$$(($(SOAK_S) + 400)) bash test/run.sh soak

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 passtd $(DESTDIR)$(BINDIR)/passtd
	ln -sf passtd $(DESTDIR)$(BINDIR)/pasta
	ln -sf passtd $(DESTDIR)$(BINDIR)/passt
	install -m 0644 doc/passtd.1 $(DESTDIR)$(MANDIR)/man1/passtd.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/passtd $(DESTDIR)$(BINDIR)/pasta \
	      $(DESTDIR)$(BINDIR)/passt $(DESTDIR)$(MANDIR)/man1/passtd.1

clean:
	rm -f *.o libpasstd.a passtd pasta passt $(UNIT_BINS) $(TOOLS)
