# fuzz.mk - libFuzzer targets for the parsers of untrusted bytes (docs/fuzzing.md).
#
#   make -f tests/fuzz/fuzz.mk fuzz          build every target into build-fuzz/
#   make -f tests/fuzz/fuzz.mk fuzz-run      run each for FUZZ_SECONDS (default 30)
#   make fuzz / make fuzz-run                the same, once the top Makefile includes this
#
# Run from the repository root; every path here is relative to it.  Works
# both standalone and `-include`d from the top Makefile: all variables are
# FUZZ_-prefixed, outputs live under build-fuzz/, and the including
# Makefile's default goal is left alone.
#
# The project sources are compiled by clang with -fsanitize=fuzzer-no-link
# (coverage, no main) plus ASan and UBSan, archived, and each target links
# only the objects it needs.  fuzz-run fuzzes a scratch copy of the committed
# seed corpus (tests/fuzz/corpus/TARGET/), so the tree is not modified,
# after replaying the saved reproducers of fixed crashes
# (tests/fuzz/crashes/TARGET/) as regression tests, and fails on the first crash, leak, sanitizer report or timeout; the reproducer
# is left in build-fuzz/crashes/TARGET/.

FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 30
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_PKGS    := libzmq libprotobuf-c sqlite3 libcurl openssl jansson libsodium
FUZZ_PKG_CFLAGS := $(shell pkg-config --cflags $(FUZZ_PKGS) 2>/dev/null)
FUZZ_PKG_LIBS   := $(shell pkg-config --libs $(FUZZ_PKGS) 2>/dev/null) -lcsv -lm -lpthread
# Project code is built without -Werror: a clang-only warning in someone
# else's file must not stop the fuzzers.  The harnesses themselves are strict.
FUZZ_WARN    := -Wall -Wextra -Wno-unused-parameter
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -O1 -g $(FUZZ_WARN) $(FUZZ_SAN) -I. -Iproto/gen \
                $(FUZZ_PKG_CFLAGS)

# Everything except program entry points, as in the top Makefile; coord/ is
# limited to the federation file parser (the client needs a network).
FUZZ_MAINS   := certs/fedra-cert.c node/fedra-node.c coord/fedra.c hub/fedra-hub.c scripts/gendata.c
FUZZ_SRCS    := $(filter-out $(FUZZ_MAINS),$(wildcard lib/*.c proto/*.c proto/gen/*.c \
                certs/*.c node/*.c hub/*.c analysis/*.c)) coord/federation.c
FUZZ_OBJS    := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRCS))
FUZZ_LIB     := $(FUZZ_BUILD)/libfedra-fuzz.a

FUZZ_TARGETS := envelope response csv where config hublink
FUZZ_BINS    := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

# -max_len per target: the wire caps (a query envelope is at most 64 KiB;
# responses are capped at 16 MiB but 64 KiB reaches every field), a CSV
# large enough for dozens of rows and an over-long field, a where expression
# just past WHERE_MAX_LEN, a config file a little past KV_MAX_LINE; hub frames and
# forwarded query plaintexts as large as a query envelope.
FUZZ_MAXLEN_envelope := 65600
FUZZ_MAXLEN_response := 65600
FUZZ_MAXLEN_csv      := 16384
FUZZ_MAXLEN_where    := 4200
FUZZ_MAXLEN_config   := 8192
FUZZ_MAXLEN_hublink  := 65600

# The hub's frame handler (hub/relay.c), with inputs as large as a route of a
# few nodes: the caps are checked before decoding, so a 32 MiB input would only
# slow the fuzzer down.
FUZZ_TARGETS += hubframe
FUZZ_BINS    += $(FUZZ_BUILD)/fuzz_hubframe
FUZZ_MAXLEN_hubframe := 16384

FUZZ_TARGETS += pool
FUZZ_BINS    += $(FUZZ_BUILD)/fuzz_pool
FUZZ_MAXLEN_pool := 65600

# The pooled auditor's class layout over a history of signed pooled queries
# (proto/atoms.h): a few queries of a few hundred bytes reach every dimension.
FUZZ_TARGETS += atoms
FUZZ_BINS    += $(FUZZ_BUILD)/fuzz_atoms
FUZZ_MAXLEN_atoms := 4096

fuzz: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -MMD -MP -o $@ $< $(FUZZ_LIB) \
	    $(FUZZ_PKG_LIBS)

# Seed generator (docs/fuzzing.md); needs a running federation, so not in `fuzz`.
$(FUZZ_BUILD)/gen_seeds: tests/fuzz/gen_seeds.c coord/client.c $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -o $@ tests/fuzz/gen_seeds.c coord/client.c \
	    $(FUZZ_LIB) $(FUZZ_PKG_LIBS)

# Each target: fresh scratch corpus seeded from the committed one, then fuzz.
# -timeout=10 turns a hang into a failure; -rss_limit_mb keeps a memory bomb
# from taking the machine down (the wire budget should make that impossible).
fuzz-run: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    w=$(FUZZ_BUILD)/run/$$t; c=$(FUZZ_BUILD)/crashes/$$t; \
	    rm -rf $$w; mkdir -p $$w $$c; cp tests/fuzz/corpus/$$t/* $$w/; \
	    if ls tests/fuzz/crashes/$$t/* >/dev/null 2>&1; then \
	        echo "== fuzz_$$t: replaying tests/fuzz/crashes/$$t/"; \
	        $(FUZZ_BUILD)/fuzz_$$t tests/fuzz/crashes/$$t/* > $(FUZZ_BUILD)/run/$$t.log 2>&1 \
	            || { tail -40 $(FUZZ_BUILD)/run/$$t.log; echo "fuzz_$$t: a saved crash is back"; \
	                 exit 1; }; \
	    fi; \
	    echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	        -rss_limit_mb=2048 -max_len=$(FUZZ_MAXLEN_$$t) -print_final_stats=1 -artifact_prefix=$$c/ \
	        $$w > $(FUZZ_BUILD)/run/$$t.log 2>&1 \
	        || { tail -60 $(FUZZ_BUILD)/run/$$t.log; \
	             echo "fuzz_$$t FAILED: reproducer in $$c/, log in $(FUZZ_BUILD)/run/$$t.log"; \
	             exit 1; }; \
	    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|cov:' \
	        $(FUZZ_BUILD)/run/$$t.log | tail -4; \
	done

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

.PHONY: fuzz fuzz-run fuzz-clean
-include $(FUZZ_OBJS:.o=.d) $(FUZZ_BINS:=.d)

# Standalone, `fuzz` is the default goal; included, the includer's stays.
ifneq ($(firstword $(MAKEFILE_LIST)),tests/fuzz/fuzz.mk)
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
endif
