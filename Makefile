# SPDX-License-Identifier: ISC
# bitnet-onnx: BitNet b1.58 models to ONNX through a stream of tensors.
#
#   make              build every tool into bin/
#   make check        install what the tests need (Debian 12), run them all
#   make check-asan   the tests again under AddressSanitizer + UBSan
#   make install      PREFIX=/usr/local by default

PREFIX   ?= /usr/local
DESTDIR  ?=
PYTHON   ?= /usr/bin/python3
BUILD    ?= build
BIN      ?= bin
SAN      ?=

PKGS     := libprotobuf-c jansson libarchive
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

ONNX_PROTO ?= /usr/include/onnx/onnx.proto

CFLAGS   ?= -O2 -g
# The language and warnings every C file is built with, tools and test
# helpers included.
WARN     := -std=c11 -Wall -Wextra -Werror
# override: a CFLAGS given on the command line adds to these, never drops
# the standard, the warnings or a sanitizer
override CFLAGS += $(WARN) -D_DEFAULT_SOURCE \
	    -D_FILE_OFFSET_BITS=64
ifneq ($(SAN),)
override CFLAGS += -fsanitize=$(SAN) -fno-sanitize-recover=undefined \
	    -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SAN)
endif
# common/ is the library, one folder a wing (base, stream, reader, hf,
# gguf, ternary, onnx, bitnet); its headers are included by name alone.
COMMON_DIRS := $(sort $(dir $(wildcard common/*/*.c common/*/*.h)))
COMMON_INC := $(patsubst %/,-I%,$(COMMON_DIRS))
COMMON_H := $(wildcard common/*/*.h)
CPPFLAGS += $(COMMON_INC) -I$(BUILD)/gen

TOOLS    := st-read tern-dequant tstream-info onnx-emit onnx-verify gguf-read
GEN      := $(BUILD)/gen
COMMON_SRC := $(wildcard common/*/*.c)
COMMON_OBJ := $(COMMON_SRC:common/%.c=$(BUILD)/obj/common/%.o) \
	      $(BUILD)/obj/gen/tstream.pb-c.o $(BUILD)/obj/gen/onnx.pb-c.o
LIB      := $(BUILD)/libbitnet-onnx.a
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/tests/unit

MAN1     := $(TOOLS:%=man/%.1)
MAN5     := man/tstream.5
MAN7     := man/bitnet-onnx.7

# The Python test drivers, tests/test_NAME.py, each run as test-NAME.
PY_TESTS := cli onnx bundle docs robust outputs config archives web \
	    trained tokenizers

.PHONY: all check check-asan check-full test test-unit $(PY_TESTS:%=test-%) \
	test-faults test-man fuzz fuzz-build deps install demo demo-web clean
.SECONDARY:

all: $(TOOLS:%=$(BIN)/%)

$(GEN)/tstream.pb-c.c $(GEN)/tstream.pb-c.h: proto/tstream.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) proto/tstream.proto

$(GEN)/onnx.pb-c.c $(GEN)/onnx.pb-c.h: $(ONNX_PROTO)
	@mkdir -p $(GEN)
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(GEN) $(ONNX_PROTO)

$(GEN)/crc32c_table.h: tools/gen-crc32c.c
	@mkdir -p $(GEN) $(BUILD)/tools
	$(CC) $(WARN) -o $(BUILD)/tools/gen-crc32c $<
	$(BUILD)/tools/gen-crc32c > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-parameter $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/obj/common/%.o: common/%.c $(GEN)/tstream.pb-c.h $(GEN)/onnx.pb-c.h \
    $(GEN)/crc32c_table.h $(COMMON_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BIN)/%: cmd/%/main.c $(LIB) $(COMMON_H)
	@mkdir -p $(BIN)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(LIB) \
	    $(LDFLAGS) $(PKG_LIBS) -lm

$(UNIT_BIN): $(UNIT_SRC) $(LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(CHECK_CFLAGS) -o $@ \
	    $(UNIT_SRC) $(LIB) $(LDFLAGS) $(PKG_LIBS) $(CHECK_LIBS) -lm

# The whole suite: dependencies first (a fresh Debian 12 needs them before
# pkg-config can answer), then the tests, the sanitizer build, and a short
# bounded run of every fuzz target over its corpus and regression files.
check: deps
	$(MAKE) test
	$(MAKE) check-asan
	$(MAKE) fuzz FUZZ_TIME=$(FUZZ_CHECK_TIME)

# LeakSanitizer exits 23 so that a leak cannot pass for an expected error.
check-asan:
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=exitcode=23 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    $(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=address,undefined test

deps:
	sh tests/install-deps.sh

# Fault injection needs LD_PRELOAD, which the sanitizer runtimes refuse.
ifeq ($(SAN),)
FAULT_TESTS := test-faults
endif

test: all $(UNIT_BIN)
	$(MAKE) test-unit $(PY_TESTS:%=test-%) $(FAULT_TESTS) test-man

INJECT := $(BUILD)/tests/inject.so
$(INJECT): tests/faults/inject.c
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O1 $(filter-out -std=c11,$(WARN)) -o $@ $< -ldl

test-faults: all $(INJECT)
	BIN=$(abspath $(BIN)) INJECT=$(abspath $(INJECT)) \
	    $(PYTHON) tests/test_faults.py

test-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5) $(MAN7)

test-unit: $(UNIT_BIN)
	CK_FORK=yes $(UNIT_BIN)

$(PY_TESTS:%=test-%): test-%: all
	BIN=$(abspath $(BIN)) $(PYTHON) tests/test_$*.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 644 $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 644 $(MAN7) $(DESTDIR)$(PREFIX)/share/man/man7

clean:
	rm -rf $(BUILD) $(BIN)

# The newcomer's first command: the small BitNet b1.58 trained here on the
# King James Version (tests/models/, made by tools/train_bitnet.py, packed
# ternary safetensors as microsoft's 2B4T repository holds them) converted
# with the README pipeline, verified against its source, run in
# onnxruntime, then as a 2-bit bundle generating text with transformers.js.
DEMO := $(BUILD)/demo
KJV  := tests/models/bitnet-kjv
DEMO_PROMPT ?= And God said
demo: deps
	$(MAKE) all
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/st-read $(KJV) | $(BIN)/tern-dequant | \
	    $(BIN)/onnx-emit > $(DEMO)/model.onnx
	$(BIN)/st-read $(KJV) | $(BIN)/tern-dequant | \
	    $(BIN)/onnx-verify --against - $(DEMO)/model.onnx
	$(PYTHON) tests/demo.py $(DEMO)/model.onnx $(KJV) "$(DEMO_PROMPT)"
	$(BIN)/st-read $(KJV) | $(BIN)/tern-dequant --to q2 | \
	    $(BIN)/onnx-emit --bundle $(DEMO)/bundle
	node tests/tjs/generate.mjs $(DEMO)/bundle "$(DEMO_PROMPT)" 48 q2 | \
	    $(PYTHON) -c 'import json, sys; r = json.load(sys.stdin); \
	    print("%s%s\n(%.0f tokens/s)" % (sys.argv[1], r["text"], \
	    r["tokens_per_s"]))' "$(DEMO_PROMPT)"

# The trained model as one bundle of the forms the browser's devices take
# (fp32; int8 with the int8 table, WebAssembly's; q2 with the 8-bit
# table, WebGPU's) served with the web page of tests/web on the loopback
# address: open the address it prints in a browser; Ctrl-C stops it.
demo-web: deps
	$(MAKE) all
	rm -rf $(DEMO)/web && mkdir -p $(DEMO)/web
	for f in "fp32:" "int8:--to int8 --embed int8" \
	    "q2:--to q2 --embed q8"; do \
	    $(BIN)/st-read $(KJV) | \
	    $(BIN)/tern-dequant -q $${f#*:} | \
	    $(BIN)/onnx-emit -q --force --bundle $(DEMO)/web/bitnet-kjv || \
	    exit 1; \
	done
	@echo "open the address below (Ctrl-C stops)"
	node tests/web/serve.mjs --port $(WEB_PORT) $(DEMO)/web/bitnet-kjv

WEB_PORT ?= 8000

# The full 2B4T shapes: about 10 GB of float32 weights and a few minutes;
# outside `make check`.  tests/bench/convert.sh measures the same pipeline.
check-full: deps
	$(MAKE) all
	BIN=$(abspath $(BIN)) $(PYTHON) tests/check_full.py $(BUILD)/bench

# Fuzzing with libFuzzer (clang): every parser of outside data.  Each
# target first replays its committed corpus and crashers, then fuzzes for
# FUZZ_TIME seconds; new findings go to build/fuzz/corpus, crashes to
# tests/fuzz/crashes/TARGET/ (keep them: they are regression files).
FUZZ_CC         ?= clang
FUZZ_TIME       ?= 60
FUZZ_CHECK_TIME ?= 8
FUZZ_TARGETS    := safetensors config index tstream onnx archive gguf
FUZZ_BIN        := build/fuzz/bin

fuzz-build:
	$(MAKE) CC=$(FUZZ_CC) CFLAGS="-g -O1" BUILD=build/fuzz \
	    SAN=fuzzer-no-link,address,undefined build/fuzz/libbitnet-onnx.a
	@mkdir -p $(FUZZ_BIN)
	for t in $(FUZZ_TARGETS); do \
	    $(FUZZ_CC) -g -O1 $(WARN) \
		-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 $(COMMON_INC) -Ibuild/fuzz/gen \
		-fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -o $(FUZZ_BIN)/fuzz_$$t \
		tests/fuzz/fuzz_$$t.c build/fuzz/libbitnet-onnx.a \
		$(PKG_LIBS) -lm || exit 1; \
	done

fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_BIN) $(FUZZ_TIME) $(FUZZ_TARGETS)
