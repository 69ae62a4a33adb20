# SPDX-License-Identifier: GPL-2.0
# connpressure: `make` builds .output/connpressure; `make test` runs the whole suite; V=1 shows commands.
OUTPUT   := .output
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= gcc
ARCH     := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX  := vmlinux/$(ARCH)/vmlinux.h

CFLAGS   ?= -g -O2
CFLAGS   += -Wall -Wextra -Wshadow -Wno-unused-parameter -Wmissing-prototypes -std=gnu11 -MMD -MP
CPPFLAGS += -I$(OUTPUT) -Ibpf -Iuser
LDLIBS   += -lbpf -lelf -lz -lpthread
BPF_CFLAGS := -g -O2 -Wall -Wno-unused-function -target bpf -D__TARGET_ARCH_$(ARCH) \
	      -I$(OUTPUT) -Ibpf -I$(dir $(VMLINUX)) -MMD -MP

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(filter-out user/main.c,$(wildcard user/*.c))
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/unit/%,$(UNIT_SRCS))
TOOL_SRCS := $(filter-out %.bpf.c,$(wildcard tools/*.c))
TOOL_BINS := $(patsubst tools/%.c,$(OUTPUT)/%,$(TOOL_SRCS))

ifeq ($(V),1)
	Q =
	msg =
else
	Q = @
	msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean test unit-test tools run deps install
PREFIX ?= /usr/local
.SECONDARY:
all: $(OUTPUT)/connpressure $(TOOL_BINS)

$(OUTPUT) $(OUTPUT)/unit:
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# User objects include the skeletons, so they wait for them.
$(OUTPUT)/%.o: user/%.c $(SKELS) | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -c $< -o $@

$(OUTPUT)/connpressure: $(OUTPUT)/main.o $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/unit/%: tests/unit/%.c $(USER_OBJS) | $(OUTPUT)/unit
	$(call msg,UNIT,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) -Itests/unit $^ $(LDLIBS) -o $@

$(OUTPUT)/%: tools/%.c | $(OUTPUT)
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) $< -lpthread -o $@

# The benchmark's do-nothing BPF tracer: its own BPF object and skeleton.
$(OUTPUT)/hookfloor.bpf.o: tools/hookfloor.bpf.c $(VMLINUX) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/hookfloor: tools/hookfloor.c $(OUTPUT)/hookfloor.skel.h | $(OUTPUT)
	$(call msg,TOOL,$@)
	$(Q)$(CC) $(CFLAGS) $(CPPFLAGS) $< $(LDLIBS) -o $@

# The whole suite: unit tests (no privileges) then system tests (root, real BPF, namespaces).
test: all $(UNIT_BINS)
	$(Q)python3 tests/run_tests.py --build $(OUTPUT) --unit-dir $(OUTPUT)/unit

unit-test: $(UNIT_BINS)
	$(Q)python3 tests/run_tests.py --build $(OUTPUT) --unit-dir $(OUTPUT)/unit --only unit

# Debian 12 packages the build, the tests and the benchmark need (run as root).
DEPS := make gcc clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 python3 \
	util-linux tmux procps
deps:
	$(Q)command -v apt-get >/dev/null || { echo "deps: apt-get not found; install: $(DEPS)"; exit 1; }
	$(Q)DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS) >/dev/null

run: all
	$(Q)$(OUTPUT)/connpressure $(ARGS)

install: $(OUTPUT)/connpressure
	$(Q)install -D -m 0755 $< $(DESTDIR)$(PREFIX)/sbin/connpressure

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/unit/*.d)
