# hlz - build, test, fuzz and benchmark. `make` builds build/hlz.
#
#   make                 library, command-line tool and tests in build/
#   make test            the whole test suite (ends with "N passed, N failed, N skipped")
#   make test-sanitize   the same suite built with ASan and UBSan in build-san/
#   make fuzz            libFuzzer on the archive decoder, the GGUF reader and the tokenizers,
#                        FUZZ_SECONDS each (clang)
#   make bench           hlz (each codec) against gzip, bzip2, xz, zstd, brotli, bzip3, 7z PPMd and
#                        zpaq on ../shared/bench: bench/results/DATE-HOST.{csv,md,png} (BENCH_ARGS)
#   make bench-container hlz --codec zstd against zstd -19 --long on ../shared/bench (container cost)
#   make bench-engine    engine speed: int8 peak, prefill and per-step tokens/s (bench/engine_bench.c)
#   make demo            compress and decompress a sample, print the sizes

O ?= build
CC ?= cc
OPT ?= -O2 -g
WERROR ?= -Werror
# Determinism: no fast math and no contraction of a*b+c into fma (see doc/determinism in DESIGN).
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Wall -Wextra $(WERROR) \
              -ffp-contract=off -fno-fast-math -pthread -Iinclude -Isrc
ALL_CFLAGS = $(BASE_CFLAGS) $(OPT) $(SAN_FLAGS) $(CFLAGS)
LIBS = -lzstd -lxxhash -lcjson -lm -pthread
FUZZ_SECONDS ?= 60

LIB_SRC = $(wildcard src/*.c)
LIB_OBJ = $(LIB_SRC:src/%.c=$(O)/obj/%.o)

# The CUDA backend (src/cuda/, device.h): built where nvcc exists, unless CUDA=0.
# sm_90 code plus compute_90 PTX that newer GPUs compile at load. -fmad=false and
# the explicit __f*_rn operations keep the arithmetic that of the CPU (bit for bit).
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA ?= $(if $(NVCC),1,0)
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= -gencode arch=compute_90,code=[sm_90,compute_90]
NVCC_FLAGS = -std=c++17 -O2 $(CUDA_ARCH) -fmad=false -prec-div=true -prec-sqrt=true -ftz=false \
             -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-fno-fast-math -Iinclude -Isrc -DHLZ_HAVE_CUDA
CUDA_SRC = $(wildcard src/cuda/*.cu)
LIB_OBJ += $(CUDA_SRC:src/cuda/%.cu=$(O)/obj/cuda/%.o)
CFLAGS_CUDA = -DHLZ_HAVE_CUDA
LIBS += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lstdc++
endif

$(O)/obj/cuda/%.o: src/cuda/%.cu include/hlz.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -c $< -o $@
TEST_SRC = $(wildcard tests/unit/test_*.c)
TEST_BIN = $(TEST_SRC:tests/unit/%.c=$(O)/tests/%)

.PHONY: all test test-sanitize fuzz bench bench-engine demo clean
all: $(O)/hlz $(O)/hlz-convert $(O)/hlz-lm $(O)/default.gguf $(TEST_BIN)

$(O)/obj/%.o: src/%.c include/hlz.h $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CFLAGS_CUDA) $(SIMD_DEFS) $(SIMD_FLAGS) -c $< -o $@

# SIMD kernel sets: each file gets its own ISA flags; the CPU is checked at run time (src/cpu.c).
ifeq ($(shell uname -m),x86_64)
SIMD_DEFS = -DHLZ_BUILD_AVX2 -DHLZ_BUILD_AVX512
$(O)/obj/kernels_avx2.o: SIMD_FLAGS = -mavx2
$(O)/obj/rans16_avx2.o: SIMD_FLAGS = -mavx2
$(O)/obj/kernels_avx512.o: SIMD_FLAGS = -mavx2 -mavx512f -mavx512bw -mavx512vl -mavx512vnni
endif

$(O)/libhlz.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(O)/hlz: programs/hlz.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@

CONVERT_SRC = programs/hlz-convert.c $(wildcard programs/convert_*.c)
$(O)/hlz-convert: $(CONVERT_SRC) programs/convert.h $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $(CONVERT_SRC) $(O)/libhlz.a $(LIBS) -o $@

# The default model hlz finds beside itself (models/default; tests use models/stand-in).
DEFAULT_MODEL ?= models/default/default.gguf
$(O)/default.gguf: $(DEFAULT_MODEL)
	@mkdir -p $(dir $@)
	cp $< $@

$(O)/hlz-lm: programs/hlz-lm.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@

$(O)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(O)/libhlz.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@

# The CUDA backend against the CPU, bit for bit (needs a GPU; skips without one).
$(O)/check-cuda: tests/cuda/check_cuda.c $(wildcard tests/unit/*.h) $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(O)/libhlz.a $(LIBS) -o $@

# Measurements of the CUDA backend (bench/gpu_throughput.sh runs it on a GPU machine).
$(O)/gpu-bench: bench/gpu_bench.c $(wildcard tests/unit/*.h) $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(O)/libhlz.a $(LIBS) -o $@

.PHONY: cuda-check
cuda-check: $(O)/check-cuda
	$(O)/check-cuda

test: all
	@sh tests/run.sh $(O)

test-sanitize:
	$(MAKE) O=build-san CUDA=0 OPT="-O1 -g" SAN_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" all
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 HLZ_TEST_QUICK=1 sh tests/run.sh build-san

FUZZ_CC ?= clang
# Every fuzz target: one clang command over all of src/ without SIMD_DEFS
# (the fuzzers run the reference kernels).
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC) include/hlz.h $(wildcard src/*.h)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all $< $(LIB_SRC) $(LIBS) -o $@

# Every fuzz target, each for FUZZ_SECONDS.
fuzz: fuzz-archive fuzz-gguf fuzz-tokenizer

.PHONY: fuzz-archive
fuzz-archive: build-fuzz/fuzz_decompress $(O)/hlz
	@sh tests/fuzz/run.sh $(O) build-fuzz/fuzz_decompress $(FUZZ_SECONDS)

# libFuzzer on the GGUF reader and writer; the target writes its own seeds
# (valid GGUF files) into the corpus when HLZ_FUZZ_SEED_DIR names it.
.PHONY: fuzz-gguf
fuzz-gguf: build-fuzz/fuzz_gguf
	@mkdir -p build-fuzz/corpus-gguf
	ASAN_OPTIONS=detect_leaks=1 HLZ_FUZZ_SEED_DIR=build-fuzz/corpus-gguf build-fuzz/fuzz_gguf \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/ build-fuzz/corpus-gguf >build-fuzz/fuzz_gguf.log 2>&1; \
	    status=$$?; tail -n 25 build-fuzz/fuzz_gguf.log; exit $$status

# libFuzzer on the tokenizers: decode(encode(x)) == x for built-in vocabularies
# of each kind (and the reference ones when HLZ_TOKENIZER_DIR names a folder
# made by node tools/tokenizer-vectors/vectors.js copy). Seeds: the texts of
# the tokenizer vectors, one per file.
.PHONY: fuzz-tokenizer
fuzz-tokenizer: build-fuzz/fuzz_tokenizer
	@rm -rf build-fuzz/seeds-tokenizer && mkdir -p build-fuzz/corpus-tokenizer build-fuzz/seeds-tokenizer
	@grep -v '^#' tests/data/tokenizer/llama3.tsv | cut -f1 | split -l 1 -a 4 - build-fuzz/seeds-tokenizer/seed-
	ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz_tokenizer \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=1024 -print_final_stats=1 \
	    -artifact_prefix=build-fuzz/tokenizer- build-fuzz/corpus-tokenizer build-fuzz/seeds-tokenizer \
	    >build-fuzz/fuzz_tokenizer.log 2>&1; status=$$?; tail -n 25 build-fuzz/fuzz_tokenizer.log; exit $$status

bench: all
	@bash bench/run.sh --hlz $(O)/hlz $(BENCH_ARGS)

.PHONY: bench-container
bench-container: $(O)/hlz
	@sh bench/container.sh

# Not part of `all` nor of the test suite. Linked with --wrap=hlz_parallel_for so
# that the bench can time the parallel regions of the forward pass.
# Robust codec cost against llm (bench/robust_bench.c; see doc/robust.md for the runs).
$(O)/robust-bench: bench/robust_bench.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@

# The gain of each online model of the hybrid predictor (bench/hybrid_bench.c, bench/hybrid.sh).
$(O)/hybrid-bench: bench/hybrid_bench.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -lm -o $@

# The float32 decoder of the real mismatch experiment (tools/robust/mismatch.sh).
$(O)/robust-mismatch: tools/robust/robust_mismatch.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@

$(O)/bench-engine: bench/engine_bench.c tests/unit/model_util.h tests/unit/test.h $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) -Itests/unit $< $(O)/libhlz.a $(LIBS) -Wl,--wrap=hlz_parallel_for -o $@

bench-engine: $(O)/bench-engine $(O)/hlz-convert
	@$(O)/bench-engine --convert $(O)/hlz-convert $(BENCH_ARGS)

demo: $(O)/hlz
	@sh tools/demo.sh $(O)/hlz

clean:
	rm -rf build build-san build-fuzz

# The float codec on weights: ratio against zstd -19, ceiling, speed (bench/float_bench.sh runs it).
$(O)/float_bench: bench/float_bench.c $(O)/libhlz.a
	$(CC) $(ALL_CFLAGS) $< $(O)/libhlz.a $(LIBS) -o $@
