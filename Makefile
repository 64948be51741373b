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
LDLIBS	?= -lseccomp -lcap-ng

SRCS	:= $(filter-out passtd.c passtd-ctl.c,$(wildcard *.c))
OBJS	:= $(SRCS:.c=.o)
HDRS	:= $(wildcard *.h)
UNIT_SRCS := $(wildcard test/unit/*_test.c)
UNIT_BINS := $(UNIT_SRCS:.c=)

.PHONY: all deps run check unit bench footprint install uninstall clean \
	fuzz fuzz-build asan kernel-bench kernel-check profile

all: passtd pasta passt passtd-ctl pesto

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

# The run-time forwarding client: the protocol's constants only (ctl.h)
passtd-ctl: passtd-ctl.c ctl.h
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -o $@ $<

pesto: passtd-ctl
	ln -sf passtd-ctl $@

test/unit/%_test: test/unit/%_test.c libpasstd.a $(HDRS) test/unit/unit.h \
		   test/unit/unit_net.h
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -I. -o $@ $< libpasstd.a $(LDLIBS)

TOOLS	:= test/tools/frame_inject test/tools/tcp_stream test/tools/udp_stream test/tools/stream_client test/tools/vm_bench \
	   test/tools/conn_rate test/tools/udp_zc_send test/tools/vu_front

# Helpers shared by the tools that use them: linked into each of those
TOOL_COMMON := test/tools/tool_common.c
TOOLS_COMMON := test/tools/tcp_stream test/tools/udp_stream \
		test/tools/stream_client test/tools/vm_bench \
		test/tools/udp_zc_send test/tools/vu_front

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

check: deps all unit $(TOOLS) fuzz-build asan
	@bash test/run.sh

# Fuzzing (test/fuzz/) and the sanitizer build: clang, objects of their
# own under build/ so they never mix with the -O2 ones above
FUZZ_CC	?= clang
FUZZ_S	?= 20
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	     -fno-sanitize-recover=all
FUZZ_DIR := build/fuzz
ASAN_DIR := build/asan
FUZZ_PROTOS := arp ndp dhcp dhcpv6 icmp tcp udp
FUZZ_TARGETS := $(addprefix fuzz_,$(FUZZ_PROTOS)) fuzz_stream fuzz_conf \
		fuzz_ports fuzz_vhost_user fuzz_virtq
FUZZ_BINS := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
FUZZ_HDRS := $(HDRS) test/fuzz/fuzz.h

$(FUZZ_DIR)/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer-no-link \
		-c -o $@ $<

$(FUZZ_DIR)/libpasstd.a: $(addprefix $(FUZZ_DIR)/,$(OBJS))
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_common.o: test/fuzz/fuzz_common.c $(FUZZ_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer-no-link -I. \
		-c -o $@ $<

# One frame harness per protocol, from one source
$(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_PROTOS)): $(FUZZ_DIR)/fuzz_%: \
		test/fuzz/fuzz_frame.c $(FUZZ_DIR)/fuzz_common.o \
		$(FUZZ_DIR)/libpasstd.a $(FUZZ_HDRS)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer -I. \
		-DFUZZ_PROTO=FUZZ_$(shell echo $* | tr a-z A-Z) -o $@ $< \
		$(FUZZ_DIR)/fuzz_common.o $(FUZZ_DIR)/libpasstd.a

$(FUZZ_DIR)/fuzz_stream $(FUZZ_DIR)/fuzz_conf: $(FUZZ_DIR)/fuzz_%: \
		test/fuzz/fuzz_%.c $(FUZZ_DIR)/fuzz_common.o \
		$(FUZZ_DIR)/libpasstd.a $(FUZZ_HDRS)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer -I. -o $@ $< \
		$(FUZZ_DIR)/fuzz_common.o $(FUZZ_DIR)/libpasstd.a

# The harnesses that need no daemon context: the library only
$(FUZZ_DIR)/fuzz_ports $(FUZZ_DIR)/fuzz_vhost_user $(FUZZ_DIR)/fuzz_virtq: \
		$(FUZZ_DIR)/fuzz_%: test/fuzz/fuzz_%.c $(FUZZ_DIR)/libpasstd.a \
		$(FUZZ_HDRS)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -fsanitize=fuzzer -I. -o $@ $< \
		$(FUZZ_DIR)/libpasstd.a

fuzz-build: $(FUZZ_BINS)

# Every harness for FUZZ_S seconds, two at a time; fails on any crash
fuzz: deps fuzz-build
	@FUZZ_S=$(FUZZ_S) bash test/fuzz.sh

# The daemon and the unit tests with ASan and UBSan (test/sanitizers.sh)
ASAN_UNITS := $(addprefix $(ASAN_DIR)/,$(UNIT_BINS))

$(ASAN_DIR)/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(ASAN_DIR)/libpasstd.a: $(addprefix $(ASAN_DIR)/,$(OBJS))
	$(AR) rcs $@ $^

$(ASAN_DIR)/passtd: $(ASAN_DIR)/passtd.o $(ASAN_DIR)/libpasstd.a
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(ASAN_DIR)/test/unit/%_test: test/unit/%_test.c $(ASAN_DIR)/libpasstd.a \
		$(HDRS) test/unit/unit.h test/unit/unit_net.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(SAN_FLAGS) -I. -o $@ $< \
		$(ASAN_DIR)/libpasstd.a $(LDLIBS)

asan: $(ASAN_DIR)/passtd $(ASAN_UNITS)

# The benchmark report: doc/performance.md, its plots (doc/perf/) and the
# README's short table (test/perf/bench.sh; about 40 minutes, BENCH_ONLY,
# BENCH_ROUNDS and BENCH_TIME to shorten). Not part of make check.
bench: all test/tools/vm_bench test/tools/conn_rate
	@sh test/lib/deps.sh bench
	@bash test/perf/bench.sh

# Where the daemon's time goes: perf profiles, system calls and CPU per GB
# of a few transfers (test/perf/profile.sh, about 2 minutes; root of the
# host, for kernel symbols). Not part of make check.
profile: all
	@sh test/lib/deps.sh bench
	@bash test/perf/profile.sh $(PROFILE_CELLS)

# The in-guest benchmark (contrib/kernel/): builds Linux KERNEL_VERSION from
# Debian's linux-source (cached) and runs the daemon's rows under QEMU;
# about 5 minutes to build, see README for the run. Not part of make check.
KERNEL_VERSION ?= 6.12
kernel-bench: all
	@k=$$(sh contrib/kernel/build.sh $(KERNEL_VERSION)) && \
		sh contrib/kernel/run.sh "$$k"

# Our kernel patches (contrib/kernel/patches/VERSION/), stock against
# patched: builds both kernels of each version, boots each, runs the
# patches' functional tests (KTAP) and the benchmark rows they affect,
# three runs a side (contrib/kernel/check.sh; see contrib/kernel/README.md
# for how long). Not part of make check.
kernel-check: all test/tools/udp_stream test/tools/udp_zc_send \
		test/tools/tcp_stream
	@sh contrib/kernel/check.sh

# Resident memory and descriptors of an idle daemon (prints, asserts
# nothing: test/isolation.sh checks the limits)
footprint: all
	@bash test/perf/footprint.sh

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
	install -m 0755 passtd-ctl $(DESTDIR)$(BINDIR)/passtd-ctl
	ln -sf passtd-ctl $(DESTDIR)$(BINDIR)/pesto
	install -m 0644 doc/passtd.1 $(DESTDIR)$(MANDIR)/man1/passtd.1
	install -m 0644 doc/passtd-ctl.1 $(DESTDIR)$(MANDIR)/man1/passtd-ctl.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/passtd $(DESTDIR)$(BINDIR)/pasta \
	      $(DESTDIR)$(BINDIR)/passt $(DESTDIR)$(MANDIR)/man1/passtd.1 \
	      $(DESTDIR)$(BINDIR)/passtd-ctl $(DESTDIR)$(BINDIR)/pesto \
	      $(DESTDIR)$(MANDIR)/man1/passtd-ctl.1

clean:
	rm -f *.o libpasstd.a passtd pasta passt passtd-ctl pesto $(UNIT_BINS) \
	      $(TOOLS)
	rm -rf build
