# visbench — build, test, benchmarks, demo.
#
#   make              build/visbench and build/libvisbench.a
#   make test         unit tests (cmocka), end-to-end CLI tests, the report in headless Chromium
#   make test-stress  eight `visbench run` processes on one store, 20 rounds
#   make SANITIZE=1 test   the same under ASan + UBSan (in build/asan)
#   make test-faults  allocation failures, a full disk, a read-only store, bad input (ASan build in $(BUILD)/faults)
#   make demo         install missing packages, build, run pipelines/quickstart.yaml, write its report
#   make deps         install the Debian packages (apt-get)
#   make bench        every benchmark (bench-features, bench-classifiers, bench-cnn)
#   make bench-cnn    CNN training/inference against torch (CNN_BENCH=short: a quick subset)
#   make bench-multilabel  binary relevance (linear SVM, logreg) against scikit-learn
#   make bench-pca    PCA (solver auto) against scikit-learn's PCA (BENCH_ARGS=--quick: small sizes)
#   make bench-scale  one experiment over 1 and 2 MPI ranks and 1 rank x 2 threads
#   make MPI=0|1      build without / with MPI (default: with it when mpicc is found)
#   make fuzz         libFuzzer targets (fuzz/, clang) FUZZ_S seconds each (FUZZ_ONLY=spec: one)

SANITIZE ?= 0
MULTIARCH := $(shell gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

ifeq ($(origin CC),default)
CC = gcc
endif
ifeq ($(SANITIZE),1)
BUILD   ?= build/asan
OPT     ?= -O1 -g
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD   ?= build
OPT     ?= -O3 -march=native -g
SANFLAGS =
endif

WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
# gcc or clang (make CC=clang): the few flags one of them lacks.
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
ifeq ($(CC_IS_CLANG),1)
# clang reports an `omp simd` loop it leaves scalar; that is no error
WARN    += -Wno-pass-failed
NO_LOOP_PATTERNS =
# what a program linking the installed library needs for clang's OpenMP
# runtime (libomp, in LLVM's lib folder beside its bin; Debian: libomp-dev)
OMP_LIBS = -L$(abspath $(dir $(realpath $(shell command -v $(CC))))../lib) -lomp
else
NO_LOOP_PATTERNS = -fno-tree-loop-distribute-patterns
OMP_LIBS = -fopenmp
endif
CPPFLAGS += -Iinclude -isystem /usr/include/$(MULTIARCH)/openblas-pthread -MMD -MP
CFLAGS  += -std=gnu11 $(OPT) $(WARN) -fopenmp -fPIC $(SANFLAGS)
LDLIBS   = -lxgboost -lsvm -lvl -lgsl -lstb -lopenblas -lfyaml -lsqlite3 -lz -lm
LDFLAGS += -fopenmp $(SANFLAGS)

LIB_SRC  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRC  := $(sort $(wildcard src/cli/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
TSUP_SRC := $(sort $(wildcard tests/support/*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TSUP_OBJ := $(TSUP_SRC:%.c=$(BUILD)/obj/%.o)
TESTS    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

LIB = $(BUILD)/libvisbench.a
CLI = $(BUILD)/visbench
# The shared library: soname libvisbench.so.MAJOR, only the embedding API
# exported (visbench.map: a version script, so internal symbols stay local).
VERSION := $(shell sed -n 's/^\#define VB_VERSION "\(.*\)"/\1/p' include/visbench/core.h)
SOMAJOR := 0
SONAME = libvisbench.so.$(SOMAJOR)
SOLIB = $(BUILD)/libvisbench.so.$(VERSION)
# Every symbol resolved at link time, except under the sanitizers: clang's
# ASan runtime comes with the program, not with a shared library.
SO_NOUNDEF = $(if $(filter 1,$(SANITIZE)),,-Wl,--no-undefined)
# The headers a program that embeds visbench needs (make install puts only these).
API_HEADERS = include/visbench/visbench.h include/visbench/core.h include/visbench/image.h

.PHONY: all install readme test-readme test test-unit test-e2e test-stress test-browser test-faults demo deps bench-deps bench bench-features bench-classifiers bench-cnn bench-multilabel bench-pca bench-scale multi-dataset fashion-methods clean fuzz fuzz-run
.DELETE_ON_ERROR:
.SECONDARY:

all: $(CLI) $(LIB) $(SOLIB)

# Extractors: sqrtf may not set errno, so that pixel loops vectorise; hog
# reproduces VLFeat's roundings, so nothing there is fused into an FMA.
$(BUILD)/obj/src/features/%.o: CFLAGS += -fno-math-errno
$(BUILD)/obj/src/features/hog.o $(BUILD)/obj/src/features/dsift.o: CFLAGS += -ffp-contract=off
# CLAHE rounds a float blend of mappings to a level as OpenCV does: no FMA
# there either, or a blend that lands on a half rounds the other way.
$(BUILD)/obj/src/preprocess/equalize.o: CFLAGS += -ffp-contract=off
# The cnn: sqrtf likewise, for the Adam step (exact either way: the same
# numbers); and loops stay loops: im2col's 14-float rows are no place for
# a memcpy call apiece.
$(BUILD)/obj/src/cnn/%.o: CFLAGS += -fno-math-errno $(NO_LOOP_PATTERNS)

# Under the sanitizers stb_image is compiled in (src/image/stb_impl.c), so
# that what it does with bad input is checked too.
ifeq ($(SANITIZE),1)
$(BUILD)/obj/src/image/stb_impl.o: CPPFLAGS += -DVB_STB_IMPL
endif

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(SOLIB): $(LIB_OBJ) visbench.map
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=visbench.map $(SO_NOUNDEF) \
	  -o $@ $(LIB_OBJ) $(LDLIBS)
	ln -sf $(notdir $@) $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $(BUILD)/libvisbench.so

# MPI (visbench run --mpi): on when mpicc is found (OpenMPI: make deps),
# or MPI=1 / MPI=0. Only src/cli/mpi.c includes mpi.h; the library never
# needs MPI. $(BUILD)/mpi.flag remembers the choice, so switching rebuilds.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell mpicc --showme:compile 2>/dev/null) -DVB_HAVE_MPI
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null)
endif
$(BUILD)/mpi.flag: FORCE
	@mkdir -p $(dir $@)
	@echo '$(MPI) $(MPI_CFLAGS)' | cmp -s - $@ || echo '$(MPI) $(MPI_CFLAGS)' > $@
$(BUILD)/obj/src/cli/mpi.o: $(BUILD)/mpi.flag
$(BUILD)/obj/src/cli/mpi.o: CPPFLAGS += $(MPI_CFLAGS)
.PHONY: FORCE
FORCE:

$(CLI): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS) $(MPI_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TSUP_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TSUP_OBJ) $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Unit tests run from a scratch directory each; a failing test stops make.
test-unit: $(TESTS)
	@set -e; for t in $(TESTS); do \
	  echo "== $$t"; \
	  d=$(BUILD)/tmp/$$(basename $$t); rm -rf $$d; mkdir -p $$d; \
	  (cd $$d && OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive $(CURDIR)/$$t); \
	done

test-e2e: $(CLI) $(LIB)
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) ROOT=$(CURDIR) SANITIZE=$(SANITIZE) CC=$(CC) bash tests/e2e/run.sh
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) ROOT=$(CURDIR) bash tests/e2e/store.sh
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/e2e/tasks.sh
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/e2e/protocols.sh
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) VB_REQUIRE_MPI=$(MPI) SANITIZE=$(SANITIZE) bash tests/e2e/scale.sh

# Many processes on one store, round after round (not part of `make test`).
# STRESS_ROUNDS, STRESS_PROCS: 20 rounds of 8 processes by default.
test-stress: $(CLI)
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/e2e/stress.sh

# The HTML report opened in headless Chromium (Debian's chromium, make deps).
test-browser: $(CLI)
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/e2e/browser.sh

test: test-unit test-e2e test-browser test-readme
	@echo "all tests passed ($(BUILD))"

# Fault tests (tests/faults): the CLI linked so that the N-th allocation
# made by visbench's own code fails (tests/faults/inject.c; calls inside
# shared libraries are not wrapped), swept over every allocation of small
# commands under ASan + LeakSanitizer; then a full disk and a read-only
# store; then a catalogue of bad input (badinput.sh). Always a sanitizer
# build: without SANITIZE=1 it builds one in $(BUILD)/faults. FAULTS_ARGS:
# e.g. "--stride 10" for a quick look.
FAULT_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=strdup,--wrap=strndup \
             -Wl,--wrap=posix_memalign,--wrap=aligned_alloc,--wrap=vasprintf
FAULT_CLI = $(BUILD)/visbench-faults

$(FAULT_CLI): $(CLI_OBJ) $(BUILD)/obj/tests/faults/inject.o $(LIB)
	$(CC) $(LDFLAGS) $(FAULT_WRAP) -o $@ $(CLI_OBJ) $(BUILD)/obj/tests/faults/inject.o $(LIB) $(LDLIBS) $(MPI_LIBS)

ifeq ($(SANITIZE),1)
test-faults: $(CLI) $(FAULT_CLI)
	@VB=$(CURDIR)/$(CLI) VBF=$(CURDIR)/$(FAULT_CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/faults/alloc.sh $(FAULTS_ARGS)
	@VB=$(CURDIR)/$(CLI) BUILD=$(CURDIR)/$(BUILD) bash tests/faults/disk.sh
	@bash tests/faults/badinput.sh $(CLI)
	@echo "fault tests passed ($(BUILD))"
else
test-faults:
	@$(MAKE) --no-print-directory SANITIZE=1 BUILD=$(BUILD)/faults test-faults
endif

# The README's plug-in reference is generated from the parameter tables.
readme: $(CLI)
	@VB=$(CLI) bash scripts/readme-reference.sh

test-readme: $(CLI)
	@VB=$(CLI) bash scripts/readme-reference.sh --check

deps:
	@bash scripts/deps.sh

demo:
	@bash scripts/deps.sh
	@$(MAKE) --no-print-directory all
	./$(CLI) run pipelines/quickstart.yaml
	@echo "report: $$(./$(CLI) report results/quickstart.db) (open it in a browser)"

bench-deps:
	@bash scripts/deps.sh bench

bench: bench-features bench-classifiers bench-cnn

bench-features: $(BENCHES)
	@bash scripts/deps.sh bench >/dev/null || echo "(some benchmark peers are missing: make bench-deps)"
	@BUILD=$(BUILD) bash bench/features.sh

# BENCH_ARGS: e.g. "--train 10000 --test 2000 --only knn,forest --no-peers"
bench-classifiers: $(BENCHES)
	@bash scripts/deps.sh bench >/dev/null || echo "(some benchmark peers are missing: make bench-deps)"
	@BUILD=$(BUILD) bash bench/classifiers.sh $(BENCH_ARGS)

# binary relevance (linear SVM, logreg) against scikit-learn on the same features
bench-multilabel: $(CLI)
	@bash scripts/deps.sh bench >/dev/null || echo "(some benchmark peers are missing: make bench-deps)"
	@BUILD=$(BUILD) bash bench/multilabel.sh $(BENCH_ARGS)

# PCA (solver auto) against scikit-learn's PCA (svd_solver auto, randomized)
# on HOG, raw-pixel and Fisher-vector matrices; BENCH_ARGS=--quick: small sizes
bench-pca: $(CLI) $(BUILD)/bench/bench_pca
	@bash scripts/deps.sh bench >/dev/null || echo "(some benchmark peers are missing: make bench-deps)"
	@BUILD=$(BUILD) bash bench/pca.sh $(BENCH_ARGS)

# one experiment over 1 and 2 MPI worker ranks and 1 rank x 2 threads (issue 16's targets)
# pipelines/multi-dataset.yaml: four pipelines over Fashion-MNIST and three
# generated synthetic sets, with the matrix, ranks and CD diagram (issue 17)
# The methods of issue 18 side by side; the LeNet model its cnn features need first.
fashion-methods: $(CLI)
	@bash scripts/deps.sh
	@test -f results/fashion-lenet.lenet.vbm || ./$(CLI) train pipelines/fashion-lenet.yaml --pipeline lenet -o results/fashion-lenet.lenet.vbm
	./$(CLI) run pipelines/fashion-methods.yaml
	@echo "report: $$(./$(CLI) report results/fashion-methods.db) (open it in a browser)"

multi-dataset: $(CLI)
	@bash scripts/deps.sh
	@VB=$(CLI) bash scripts/multi-dataset.sh

bench-scale: $(CLI)
	@BUILD=$(BUILD) bash bench/scale.sh $(BENCH_ARGS)

bench-cnn: $(BUILD)/bench/bench_cnn
	@bash scripts/deps.sh bench >/dev/null || echo "(some benchmark peers are missing: make bench-deps)"
	@BUILD=$(BUILD) bash bench/cnn.sh

# make install PREFIX=/usr/local DESTDIR=: the CLI, the shared library
# (libvisbench.so.0) and the static one, the embedding API's headers and a
# pkg-config file (pkg-config --cflags --libs visbench links the shared
# library; add --static for libvisbench.a).
PREFIX ?= /usr/local
install: $(CLI) $(LIB) $(SOLIB)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/visbench
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/visbench
	install -m 644 $(LIB) $(DESTDIR)$(PREFIX)/lib/libvisbench.a
	install -m 755 $(SOLIB) $(DESTDIR)$(PREFIX)/lib/
	ln -sf $(notdir $(SOLIB)) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libvisbench.so
	install -m 644 $(API_HEADERS) $(DESTDIR)$(PREFIX)/include/visbench/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' -e 's|@SANFLAGS@|$(SANFLAGS)|' \
	  -e 's|@OMP_LIBS@|$(OMP_LIBS)|' visbench.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/visbench.pc

# ---- fuzzing ----------------------------------------------------------------
# make fuzz [FUZZ_S=30] [FUZZ_ONLY="spec idx"]: the libFuzzer targets in
# fuzz/ (one .c each), built with clang in build/fuzz with
# -fsanitize=fuzzer,address,undefined (stb_image compiled in), each run
# FUZZ_S seconds on its corpus build/fuzz/corpus/NAME, which fuzz/seeds.sh
# seeds and which grows from run to run. A crash, leak, hang (10 s) or
# broken contract stops make and leaves the input in build/fuzz/crash-NAME-*.
# FUZZ_SEED=N fixes libFuzzer's random seed (0, the default: a new one each
# run); CI fixes it, so the inputs a run tries are the same on every machine.
FUZZ_S ?= 30
FUZZ_SEED ?= 0
FUZZ_ALL := spec idx cifar csv image model
FUZZ_ONLY ?= $(FUZZ_ALL)

fuzz:
	@$(MAKE) --no-print-directory CC=clang SANITIZE=1 FUZZ=1 BUILD=build/fuzz fuzz-run

ifeq ($(FUZZ),1)
SANFLAGS += -fsanitize=fuzzer-no-link
FUZZ_BINS := $(FUZZ_ONLY:%=$(BUILD)/fuzz/%)

fuzz-run: $(FUZZ_BINS) $(BUILD)/fuzz/mkseeds $(CLI)
	@set -e; for t in $(FUZZ_ONLY); do \
	  c=$(BUILD)/fuzz/corpus/$$t; \
	  BUILD=$(BUILD) bash fuzz/seeds.sh $$t $$c; \
	  echo "== fuzz $$t: $(FUZZ_S) s on $$(ls $$c | wc -l) inputs"; \
	  if ! OMP_NUM_THREADS=1 LSAN_OPTIONS=suppressions=$(CURDIR)/fuzz/lsan.supp:print_suppressions=0 \
	      $(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_S) -seed=$(FUZZ_SEED) -timeout=10 -rss_limit_mb=2048 \
	      -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/crash-$$t- $$c >$(BUILD)/fuzz/$$t.log 2>&1; then \
	    tail -60 $(BUILD)/fuzz/$$t.log; echo "fuzz $$t: FAILED (log $(BUILD)/fuzz/$$t.log)"; exit 1; \
	  fi; \
	  grep -E '^stat::number_of_executed_units|^stat::new_units_added' $(BUILD)/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

$(BUILD)/fuzz/mkseeds: $(BUILD)/obj/fuzz/mkseeds.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

-include $(wildcard $(BUILD)/obj/fuzz/*.d)
endif

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/obj/tests/faults/inject.d $(TSUP_OBJ:.o=.d) $(TEST_SRC:%.c=$(BUILD)/obj/%.d) $(BENCH_SRC:%.c=$(BUILD)/obj/%.d)
