# fedra - federated analysis for very rare paediatric tumours.
#
#   make                         build fedra-node, fedra, fedra-cert, fedra-hub (fatal warnings)
#   make check                   unit tests (cmocka) then integration scenarios
#   make SANITIZE=address,undefined check
#   make install PREFIX=/usr/local DESTDIR=
#   make proto                   regenerate proto/gen/ from proto/*.proto
#   make bench                   benchmarks -> docs/bench.csv, docs/bench.md (minutes; not in check)
#   make lint                    layering and banned-call checks
#   make load                    load and flood test of a 5-node federation (tests/load/run)
#   make valgrind                integration scenarios with the node and the hub under valgrind
#   make fuzz && make fuzz-run   libFuzzer targets for every parser of untrusted bytes
#
# Layering (enforced by `make lint`): analysis <- lib <- proto <- certs <- node, coord;
# hub/ sits beside node/ and uses only its CRL fetcher and certificate cache.
# analysis/ is pure computation and links with -lm only.

CC       ?= cc
CFLAGS   ?= -O2 -g
PREFIX   ?= /usr/local
DESTDIR  ?=
BUILD    ?= build

WARN     := -Wall -Wextra -Werror -Wstrict-prototypes -Wold-style-definition \
            -Wpointer-arith -Wvla -Wwrite-strings -Wformat=2 -Wshadow
# libcurl is not linked: node/crlfetch.c loads it at run time, only when crl_url
# is set (crlfetch.h: why); its header still gives the types and constants.
PKGS     := libzmq libprotobuf-c sqlite3 openssl jansson libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libcurl 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lm -lpthread
ALL_CFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -I. -Iproto/gen \
              -fstack-protector-strong $(PKG_CFLAGS)
# --as-needed: a program records only the libraries it calls (fedra-node no longer
# maps libssl or jansson it never uses).  Full RELRO (-z relro -z now) stays: it is
# hardening, and eager binding of our own few imports costs no measurable memory.
ALL_LDFLAGS = $(LDFLAGS) -Wl,-O1,--as-needed -Wl,-z,relro,-z,now

ifdef SANITIZE
BUILD       := $(BUILD)-san
ALL_CFLAGS  += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

PROTOS   := $(wildcard proto/*.proto)
PROTO_C  := $(patsubst proto/%.proto,proto/gen/%.pb-c.c,$(PROTOS))

# Program entry points; every other .c under these directories goes into libfedra.a.
MAINS    := certs/fedra-cert.c node/fedra-node.c coord/fedra.c hub/fedra-hub.c scripts/gendata.c
ANA_SRCS := $(wildcard analysis/*.c)
LIB_SRCS := $(filter-out $(MAINS),$(wildcard lib/*.c proto/*.c certs/*.c node/*.c coord/*.c hub/*.c)) $(PROTO_C)
ANA_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(ANA_SRCS))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
PROGS    := $(BUILD)/fedra-node $(BUILD)/fedra $(BUILD)/fedra-cert $(BUILD)/fedra-hub \
            $(BUILD)/fedra-gendata
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# Shared test support (every tests/unit/*.c that is not a test program).
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(UNIT_SRCS),$(wildcard tests/unit/*.c)))

all: $(PROGS)

# The statistics loops (Cox risk-set sums, IRLS cross-products) are element-wise
# and vectorise with GCC's dynamic cost model, which -O2 leaves off; reductions
# keep their order (no -ffast-math), so results are unchanged.
$(ANA_OBJS): ALL_CFLAGS += $(if $(filter gcc cc,$(notdir $(CC))),-fvect-cost-model=dynamic)

$(BUILD)/%.o: %.c $(PROTO_C)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

# Generated code is fenced off in proto/gen/ and committed, so that hosts without
# protoc-c still build; `make proto` regenerates it (idempotent, no timestamps).
proto/gen/%.pb-c.c proto/gen/%.pb-c.h: proto/%.proto
	@command -v protoc-c >/dev/null || { echo "protoc-c missing: run scripts/install-deps" >&2; exit 1; }
	protoc-c --proto_path=proto --c_out=proto/gen $<

proto: $(PROTO_C)

$(BUILD)/libfedra-analysis.a: $(ANA_OBJS)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libfedra.a: $(LIB_OBJS)
	@rm -f $@; ar rcs $@ $^

LIBS = $(BUILD)/libfedra.a $(BUILD)/libfedra-analysis.a

$(BUILD)/fedra-node: $(BUILD)/node/fedra-node.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/fedra: $(BUILD)/coord/fedra.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/fedra-cert: $(BUILD)/certs/fedra-cert.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/fedra-hub: $(BUILD)/hub/fedra-hub.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(BUILD)/fedra-gendata: $(BUILD)/scripts/gendata.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Benchmarks (make bench; docs/bench.md): not part of check, except a smoke run.
BENCH_BIN := $(BUILD)/bench/fedra-bench
$(BENCH_BIN): $(BUILD)/bench/fedra-bench.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The derivation auditor alone (analysis/derive.h), pure computation:
# build/bench/derive-bench ROWS QUERIES [K [SEED]] (its header says what it runs).
$(BUILD)/bench/derive-bench: $(BUILD)/bench/derive-bench.o $(BUILD)/libfedra-analysis.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ -lm

# The node's disclosure auditor alone (node/qaudit.h) on a real store:
# build/bench/qaudit-bench DB QUERIES [SEED] (its header says what it runs).
$(BUILD)/bench/qaudit-bench: $(BUILD)/bench/qaudit-bench.o $(LIBS)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: $(PROGS) $(BENCH_BIN) $(BUILD)/bench/qaudit-bench
	@FEDRA_BIN=$(CURDIR)/$(BUILD) bench/run

bench-smoke: $(PROGS) $(BENCH_BIN) $(BUILD)/bench/qaudit-bench
	@FEDRA_BIN=$(CURDIR)/$(BUILD) bench/run --smoke

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_OBJS) $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lcmocka

# Test-only programs (never installed): a lying node and a flooder for the
# fault and load tests (tests/tools/fakenode.c); an attacker's model probe for
# the disclosure tests (tests/tools/probe.c); a hub that tampers with what it
# relays, to show that nodes and fedra catch it, or records the pooled shares it
# sees (tests/tools/tamperhub.c); what such a hub can read of them
# (tests/tools/poolpeek.c).
TOOLS := $(BUILD)/tests/fedra-fakenode $(BUILD)/tests/fedra-probe $(BUILD)/tests/fedra-tamperhub \
         $(BUILD)/tests/fedra-poolpeek
$(BUILD)/tests/fedra-%: $(BUILD)/tests/tools/%.o $(LIBS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

check: unit integration bench-smoke

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; ./$$t; done

# Integration scenarios start real nodes on loopback with real certificates.
integration: $(PROGS) $(TOOLS)
	@FEDRA_BIN=$(CURDIR)/$(BUILD) tests/integration/run

# Load and flood test of a 5-node federation (minutes; not part of check):
# make load LOAD_ARGS="10000 32 30" (queries, clients, flood seconds).
load: $(PROGS) $(TOOLS)
	@FEDRA_BIN=$(CURDIR)/$(BUILD) tests/load/run $(LOAD_ARGS)

# The node and the hub under valgrind (memcheck, full leak check) through
# integration scenarios, one run each: make valgrind VALGRIND_SCENARIO="30-federation 71-hub"
VALGRIND_SCENARIO ?= 30-federation 71-hub
valgrind: $(PROGS) $(TOOLS)
	@set -e; for s in $(VALGRIND_SCENARIO); do \
	    FEDRA_BIN=$(CURDIR)/$(BUILD) tests/valgrind/run $$s; done

lint:
	@scripts/checksrc

install: $(PROGS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/fedra
	install -m 0755 $(BUILD)/fedra-node $(BUILD)/fedra $(BUILD)/fedra-cert $(BUILD)/fedra-hub \
	    $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 scripts/federation $(DESTDIR)$(PREFIX)/share/fedra/
	install -d $(DESTDIR)$(PREFIX)/share/doc/fedra
	install -m 0644 scripts/fedra-node.service scripts/fedra-hub.service \
	    $(DESTDIR)$(PREFIX)/share/fedra/
	install -m 0644 docs/service.md docs/node-config.md docs/hub-config.md \
	    $(DESTDIR)$(PREFIX)/share/doc/fedra/

clean:
	rm -rf build build-san build-fuzz

# libFuzzer targets (clang): make fuzz; make fuzz-run FUZZ_SECONDS=30 (docs/fuzzing.md)
-include tests/fuzz/fuzz.mk

.PHONY: all check unit integration lint install clean proto load valgrind bench bench-smoke
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
