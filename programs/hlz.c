/*
 * hlz.c - the command-line tool. It parses arguments, manages files (temporary
 * names, renames, permissions, --rm) and prints; all coding is in libhlz.
 */
#include "hlz.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUFFIX ".hlz"

typedef enum { MODE_COMPRESS, MODE_DECOMPRESS, MODE_TEST, MODE_LIST } mode_t_;

typedef struct {
    mode_t_ mode;
    bool to_stdout, force, remove_input, quiet;
    int verbose;
    const char *output;
    const char *model_path; /* --model */
    hlz_device device;      /* --device */
    const char *device_arg; /* its spelling, for messages */
    hlz_options lib;
} cli;

static const char *program = "hlz";

static void say(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *name, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program);
    if (name) fprintf(stderr, "%s: ", name);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

/* ---- temporary output files, removed if we are interrupted ------------- */

static char temp_path[PATH_MAX + 32];
static volatile sig_atomic_t temp_active;

static void on_signal(int sig)
{
    if (temp_active) unlink(temp_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signal_handlers(void)
{
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], on_signal);
}

/* Creates a hidden temporary file beside `final_path` and opens it. */
static FILE *open_temp_beside(const char *final_path)
{
    const char *slash = strrchr(final_path, '/');
    size_t dir_len = slash ? (size_t)(slash - final_path) + 1 : 0;
    const char *base = final_path + dir_len;
    if (snprintf(temp_path, sizeof temp_path, "%.*s.%s.XXXXXX", (int)dir_len, final_path, base) >=
        (int)sizeof temp_path) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    int fd = mkstemp(temp_path);
    if (fd < 0) return NULL;
    temp_active = 1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(temp_path);
        temp_active = 0;
    }
    return f;
}

static void discard_temp(FILE *f)
{
    if (f) fclose(f);
    if (temp_active) unlink(temp_path);
    temp_active = 0;
}

/* ---- progress ------------------------------------------------------------ */

typedef struct {
    const char *name;
    uint64_t total;      /* input size when known, else 0 */
    bool compressing;
    struct timespec start, last;
} progress;

static double seconds_between(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

static void show_progress(void *user, uint64_t bytes_in, uint64_t bytes_out)
{
    progress *p = user;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (seconds_between(p->last, now) < 0.25) return;
    p->last = now;
    double elapsed = seconds_between(p->start, now);
    uint64_t raw = p->compressing ? bytes_in : bytes_out;
    uint64_t packed = p->compressing ? bytes_out : bytes_in;
    double speed = elapsed > 0 ? (double)bytes_in / elapsed : 0;
    char left[32] = "";
    if (p->total && speed > 0 && bytes_in <= p->total) {
        double rest = (double)(p->total - bytes_in) / speed;
        snprintf(left, sizeof left, ", %d:%02d left", (int)rest / 60, (int)rest % 60);
    }
    fprintf(stderr, "\r\033[K%s: %s: %.1f MiB done, ratio %.1f%%, %.1f MiB/s%s", program, p->name,
            (double)bytes_in / 1048576.0, raw ? 100.0 * (double)packed / (double)raw : 0.0,
            speed / 1048576.0, left);
    fflush(stderr);
}

static void end_progress(const cli *c)
{
    if (c->lib.progress) fputs("\r\033[K", stderr);
}

/* ---- one file ------------------------------------------------------------- */

static bool has_suffix(const char *name)
{
    size_t n = strlen(name), s = strlen(SUFFIX);
    return n > s && strcmp(name + n - s, SUFFIX) == 0;
}

static void report_error(const char *name, const hlz_error *e, hlz_status st)
{
    say(name, "%s", e->status == st && e->message[0] ? e->message : hlz_status_name(st));
}

static hlz_status run_codec(const cli *c, FILE *in, FILE *out, hlz_stats *stats, hlz_error *e)
{
    if (c->mode == MODE_COMPRESS) return hlz_compress_file(in, out, &c->lib, stats, e);
    return hlz_decompress_file(in, out, &c->lib, stats, e);
}

static void print_stats(const cli *c, const char *name, const hlz_stats *s, double seconds)
{
    if (c->verbose < 1 || c->quiet) return;
    double ratio = s->raw_bytes ? (double)s->archive_bytes / (double)s->raw_bytes : 0;
    fprintf(stderr, "%s: %s: %llu -> %llu bytes (%.2f%%, %.3f bpb), %llu chunks, %.2f s\n", program, name,
            (unsigned long long)(c->mode == MODE_COMPRESS ? s->raw_bytes : s->archive_bytes),
            (unsigned long long)(c->mode == MODE_COMPRESS ? s->archive_bytes : s->raw_bytes), 100 * ratio,
            8 * ratio, (unsigned long long)s->chunks, seconds);
}

/* Decides the output name: NULL with an error printed when the file is skipped. */
static char *output_name(const cli *c, const char *input)
{
    if (c->output) return strdup(c->output);
    size_t n = strlen(input);
    if (c->mode == MODE_COMPRESS) {
        if (has_suffix(input) && !c->force) {
            say(input, "already has the %s suffix -- skipped (use -f to compress it again)", SUFFIX);
            return NULL;
        }
        char *name = malloc(n + sizeof SUFFIX);
        if (name) memcpy(name, input, n), memcpy(name + n, SUFFIX, sizeof SUFFIX);
        return name;
    }
    if (!has_suffix(input)) {
        say(input, "unknown suffix (expected %s) -- skipped (use -c or -o to name the output)", SUFFIX);
        return NULL;
    }
    return strndup(input, n - strlen(SUFFIX));
}

static int process_stream(const cli *c, const char *name, FILE *in, FILE *out)
{
    hlz_error e = {0};
    hlz_stats stats = {0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hlz_status st = c->mode == MODE_TEST ? hlz_decompress_file(in, NULL, &c->lib, &stats, &e)
                                         : run_codec(c, in, out, &stats, &e);
    end_progress(c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != HLZ_OK) {
        report_error(name, &e, st);
        return 1;
    }
    if (c->mode == MODE_TEST && c->verbose && !c->quiet) say(name, "OK");
    print_stats(c, name, &stats, seconds_between(t0, t1));
    return 0;
}

static bool same_file(const struct stat *a, const char *path)
{
    struct stat b;
    return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* Verifies a finished archive by decoding it in full (for --rm). */
static int verify_archive(const cli *c, const char *path, const char *name)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        say(name, "cannot reopen the archive to verify it: %s", strerror(errno));
        return 1;
    }
    hlz_options o = c->lib;
    o.progress = NULL;
    hlz_error e = {0};
    hlz_status st = hlz_decompress_file(f, NULL, &o, NULL, &e);
    fclose(f);
    if (st != HLZ_OK) {
        say(name, "verification of the new archive failed, input kept: %s", e.message);
        return 1;
    }
    return 0;
}

static int process_file(cli *c, const char *input)
{
    bool from_stdin = strcmp(input, "-") == 0;
    const char *name = from_stdin ? "(stdin)" : input;
    progress prog = {.name = name, .compressing = c->mode == MODE_COMPRESS};
    struct stat st_in = {0};
    FILE *in = stdin;
    if (!from_stdin) {
        if (stat(input, &st_in) != 0) {
            say(input, "%s", strerror(errno));
            return 1;
        }
        if (S_ISDIR(st_in.st_mode)) {
            say(input, "is a directory -- skipped");
            return 1;
        }
        if (!S_ISREG(st_in.st_mode) && !c->force && !c->to_stdout && c->mode != MODE_TEST && c->mode != MODE_LIST) {
            say(input, "is not a regular file -- skipped (use -f or -c)");
            return 1;
        }
        in = fopen(input, "rb");
        if (!in) {
            say(input, "%s", strerror(errno));
            return 1;
        }
        prog.total = S_ISREG(st_in.st_mode) ? (uint64_t)st_in.st_size : 0;
    } else if (c->mode != MODE_COMPRESS && isatty(STDIN_FILENO)) {
        say(NULL, "refusing to read an archive from a terminal (give a file name, or -h for help)");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    prog.last = prog.start;
    c->lib.progress = NULL;
    if (!c->quiet && isatty(STDERR_FILENO) && c->mode != MODE_LIST) {
        c->lib.progress = show_progress;
        c->lib.progress_user = &prog;
    }

    int rc = 1;
    char *out_name = NULL;
    if (c->mode == MODE_TEST) {
        rc = process_stream(c, name, in, NULL);
        goto done;
    }
    if (c->to_stdout || (from_stdin && !c->output)) {
        if (c->mode == MODE_COMPRESS && isatty(STDOUT_FILENO) && !c->force) {
            say(NULL, "refusing to write compressed data to a terminal (use -f to force, or -o FILE)");
            goto done;
        }
        rc = process_stream(c, name, in, stdout);
        goto done;
    }
    out_name = output_name(c, input);
    if (!out_name) goto done;
    if (!from_stdin && same_file(&st_in, out_name)) {
        say(input, "input and output are the same file -- skipped");
        goto done;
    }
    if (!c->force && access(out_name, F_OK) == 0) {
        say(out_name, "already exists -- not overwritten (use -f to overwrite)");
        goto done;
    }
    FILE *out = open_temp_beside(out_name);
    if (!out) {
        say(out_name, "cannot create the output: %s", strerror(errno));
        goto done;
    }
    rc = process_stream(c, name, in, out);
    if (rc == 0 && (fflush(out) != 0 || fsync(fileno(out)) != 0)) {
        say(out_name, "write error: %s", strerror(errno));
        rc = 1;
    }
    if (rc == 0 && c->remove_input && c->mode == MODE_COMPRESS) rc = verify_archive(c, temp_path, name);
    if (rc == 0 && !from_stdin) {
        /* Like gzip: the output keeps the input's permissions and times. */
        fchmod(fileno(out), st_in.st_mode & 07777);
        struct timespec times[2] = {st_in.st_atim, st_in.st_mtim};
        futimens(fileno(out), times);
    } else if (rc == 0) {
        /* mkstemp made the file 0600: a new file from stdin gets 0666 & ~umask. */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fileno(out), 0666 & ~mask);
    }
    if (rc != 0) {
        discard_temp(out);
        goto done;
    }
    if (fclose(out) != 0 || rename(temp_path, out_name) != 0) {
        say(out_name, "cannot finish the output: %s", strerror(errno));
        unlink(temp_path);
        temp_active = 0;
        rc = 1;
        goto done;
    }
    temp_active = 0;
    if (c->remove_input && !from_stdin && unlink(input) != 0) {
        say(input, "cannot remove the input: %s", strerror(errno));
        rc = 1;
    }
done:
    if (in && in != stdin) fclose(in);
    free(out_name);
    return rc;
}

/* ---- listing --------------------------------------------------------------- */

typedef struct {
    const cli *c;
    const char *name;
    uint64_t codec_chunks[HLZ_CODEC_COUNT];
} lister;

static int list_header(void *user, const hlz_header_info *h)
{
    lister *l = user;
    printf("%s: format %u, chunk size %u", l->name, h->format_version, (unsigned)h->chunk_size);
    uint8_t any = 0;
    for (int i = 0; i < 16; i++) any |= h->model_fingerprint[i];
    if (any || h->model_name[0]) {
        printf(", model %s (fingerprint ", h->model_name[0] ? h->model_name : "(unnamed)");
        for (int i = 0; i < 16; i++) printf("%02x", h->model_fingerprint[i]);
        printf(")");
    }
    if (h->attention == HLZ_ATTENTION_INT8) printf(", attention int8");
    printf("\n");
    if (l->c->verbose)
        printf("%8s %12s %12s %11s %7s %6s  %-6s %7s %5s %6s %9s %9s  %s\n", "chunk", "offset", "raw", "coded",
               "ratio", "bpb", "codec", "entropy", "utf8", "probe", "tokens", "overhead", "reason");
    else
        printf("%8s %12s %11s %7s %6s  %s\n", "chunk", "raw", "coded", "ratio", "bpb", "codec");
    return 0;
}

static int list_chunk(void *user, const hlz_chunk_info *ch)
{
    lister *l = user;
    /* Robust chunks show the mismatch C they are certified against. */
    char codec[40];
    if (ch->codec == HLZ_CODEC_ROBUST && ch->mismatch > 0)
        snprintf(codec, sizeof codec, "robust C=%.4g", ch->mismatch);
    else if (ch->codec == HLZ_CODEC_LLM && ch->mix) /* the online models mixed in: m, c, s */
        snprintf(codec, sizeof codec, "llm+%s%s%s", ch->mix & HLZ_MIX_MATCH ? "m" : "",
                 ch->mix & HLZ_MIX_CONTEXT ? "c" : "", ch->mix & HLZ_MIX_SSE ? "s" : "");
    else
        snprintf(codec, sizeof codec, "%s", hlz_codec_name(ch->codec));
    double ratio = (double)ch->coded_size / (double)ch->raw_size;
    if (ch->codec < HLZ_CODEC_COUNT) l->codec_chunks[ch->codec]++;
    if (l->c->verbose) {
        /* llm chunks: coded bits against the model's own cross-entropy. */
        char tokens[24] = "-", overhead[24] = "-";
        if (ch->tokens) {
            snprintf(tokens, sizeof tokens, "%llu", (unsigned long long)ch->tokens);
            if (ch->model_bits > 0)
                snprintf(overhead, sizeof overhead, "%+.2f%%", 100 * (8.0 * ch->coded_size / ch->model_bits - 1));
        }
        printf("%8llu %12llu %12u %11u %6.2f%% %6.3f  %-6s %7.3f %4u%% %5u%% %9s %9s  %s\n",
               (unsigned long long)ch->index, (unsigned long long)ch->offset, (unsigned)ch->raw_size,
               (unsigned)ch->coded_size, 100 * ratio, 8 * ratio, codec, ch->entropy,
               ch->utf8_percent, ch->probe_percent, tokens, overhead, hlz_reason_name(ch->reason));
    }
    else
        printf("%8llu %12u %11u %6.2f%% %6.3f  %s\n", (unsigned long long)ch->index, (unsigned)ch->raw_size,
               (unsigned)ch->coded_size, 100 * ratio, 8 * ratio, codec);
    return 0;
}

static int list_file(const cli *c, const char *input)
{
    bool from_stdin = strcmp(input, "-") == 0;
    const char *name = from_stdin ? "(stdin)" : input;
    if (from_stdin && isatty(STDIN_FILENO)) {
        say(NULL, "refusing to read an archive from a terminal (give a file name, or -h for help)");
        return 1;
    }
    FILE *in = from_stdin ? stdin : fopen(input, "rb");
    if (!in) {
        say(input, "%s", strerror(errno));
        return 1;
    }
    lister l = {.c = c, .name = name};
    hlz_list_callbacks cb = {.on_header = list_header, .on_chunk = list_chunk, .user = &l};
    hlz_stats s = {0};
    hlz_error e = {0};
    hlz_status st = hlz_list_file(in, &cb, &s, &e);
    if (!from_stdin) fclose(in);
    if (st != HLZ_OK) {
        fflush(stdout);
        report_error(name, &e, st);
        return 1;
    }
    double ratio = s.raw_bytes ? (double)s.archive_bytes / (double)s.raw_bytes : 0;
    printf("%8s %12llu %11llu %6.2f%% %6.3f  total:", "all", (unsigned long long)s.raw_bytes,
           (unsigned long long)s.archive_bytes, 100 * ratio, 8 * ratio);
    for (unsigned i = 0; i < HLZ_CODEC_COUNT; i++)
        if (l.codec_chunks[i]) printf(" %s %llu", hlz_codec_name(i), (unsigned long long)l.codec_chunks[i]);
    printf(" (archive bytes include all records)\n");
    return 0;
}

/* ---- the model ------------------------------------------------------------ */

/* The default model: $HLZ_MODEL, else default.gguf beside the hlz program
 * (where the build puts it), else the installed one. NULL when none exists. */
static const char *default_model(char *buf, size_t size)
{
    const char *env = getenv("HLZ_MODEL");
    if (env && *env) return env;
    ssize_t n = readlink("/proc/self/exe", buf, size - 32);
    if (n > 0) {
        buf[n] = '\0';
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "default.gguf");
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    if (access("/usr/local/share/hlz/default.gguf", R_OK) == 0) return "/usr/local/share/hlz/default.gguf";
    return NULL;
}

/* Opens --model, or the default model when one exists. Without a model,
 * auto compression uses the classical codecs only; --codec llm and archives
 * that need a model fail with a message naming the model. */
static int open_model(cli *c)
{
    char buf[PATH_MAX];
    const char *path = c->model_path ? c->model_path : default_model(buf, sizeof buf);
    if (path && strcmp(path, "none") == 0) path = NULL; /* classical codecs only */
    if (!path) {
        if (c->lib.codec == HLZ_CODEC_LLM || c->lib.codec == HLZ_CODEC_ROBUST) {
            say(NULL, "the %s codec needs a model: give one with --model FILE", hlz_codec_name(c->lib.codec));
            return 1;
        }
        if (c->verbose && !c->quiet) say(NULL, "no model found: text is coded with zstd (give one with --model)");
        return 0;
    }
    hlz_error e = {0};
    if (hlz_model_open(&c->lib.model, path, &e) != HLZ_OK) {
        say(path, "cannot use this model: %s", e.message);
        return 1;
    }
    if (hlz_model_set_device(c->lib.model, c->device, &e) != HLZ_OK) {
        say(NULL, "--device %s: %s", c->device_arg, e.message);
        return 1;
    }
    if (c->verbose && !c->quiet) {
        hlz_model_info info;
        hlz_model_get_info(c->lib.model, &info);
        say(NULL, "device %s: %s", c->device_arg, info.device);
    }
    if (c->verbose > 1 && !c->quiet) {
        hlz_model_info info;
        hlz_model_get_info(c->lib.model, &info);
        say(NULL, "model %s: %s, %llu parameters, vocabulary %u, context %u, %s kernels", path,
            info.name[0] ? info.name : info.architecture, (unsigned long long)info.n_params, info.n_vocab,
            info.n_ctx, info.kernels);
    }
    return 0;
}

/* ---- arguments --------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: hlz [OPTION]... [FILE]...\n"
            "Compress or decompress FILEs in the .hlz format (FILE is kept; FILE.hlz is written).\n"
            "With no FILE, or when FILE is -, read standard input and write standard output.\n"
            "\n"
            "  -z, --compress       compress (the default)\n"
            "  -d, --decompress     decompress FILE.hlz to FILE\n"
            "  -t, --test           verify archives: decode everything and check every checksum\n"
            "  -l, --list           list the chunks of archives (-v adds the scout's decisions)\n"
            "  -c, --stdout         write to standard output and keep the input\n"
            "  -o, --output=FILE    write to FILE (one input only)\n"
            "  -f, --force          overwrite existing outputs; compress .hlz files; write to a terminal\n"
            "  -k, --keep           keep input files (the default)\n"
            "      --rm             remove each input after its output is complete and verified\n"
            "  -1 .. -9             faster .. smaller (default -%d)\n"
            "      --codec=NAME     auto (default: the scout picks per chunk), llm, float, cm (context\n"
            "                       mixing, about 1 MB/s; auto uses it from -8 on), zstd, store, or robust\n"
            "                       (llm that decodes even where the decoder's probabilities differ)\n"
            "      --mismatch=C     robust: the factor C > 1 by which the decoder's probabilities may\n"
            "                       differ from the encoder's (recorded in the archive)\n"
            "      --mix=LEVEL      llm: online models mixed with the language model, each level\n"
            "                       adding to the one before: none, match (long repeats), context\n"
            "                       (order-1..4 token contexts), full (default: with secondary estimation)\n"
            "      --attention=A    llm: the model's attention arithmetic, float (default) or int8\n"
            "                       (integer, head dimensions a multiple of 32, faster on a GPU;\n"
            "                       recorded in the archive)\n"
            "      --model=FILE     the GGUF model of the llm codec (default: the model built with hlz,\n"
            "                       or $HLZ_MODEL; 'none': classical codecs only); decompressing\n"
            "                       needs the model the archive names\n"
            "      --chunk-size=N   bytes per chunk, with K, M or G suffixes (1K..64M, default 1M)\n"
            "  -T, --threads=N      worker threads (default: all processors; 0 means all)\n"
            "      --device=D       where the model runs: auto (default: the GPU when one is\n"
            "                       usable), cpu or cuda; archives are identical either way\n"
            "  -v, --verbose        print sizes and times; with -l, the scout's reasons\n"
            "  -q, --quiet          print errors only, no progress line\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n"
            "\n"
            "Exit status: 0 on success, 1 on any error.\n",
            HLZ_LEVEL_DEFAULT);
}

static bool parse_size(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return false;
    unsigned long long mult = 1;
    if (*end == 'K' || *end == 'k') mult = 1ull << 10, end++;
    else if (*end == 'M' || *end == 'm') mult = 1ull << 20, end++;
    else if (*end == 'G' || *end == 'g') mult = 1ull << 30, end++;
    if (mult > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)) end += strlen(end);
    if (*end != '\0' || v > UINT32_MAX / mult) return false;
    *out = (uint32_t)(v * mult);
    return true;
}

static bool parse_threads(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || v < 0 || v > HLZ_THREADS_MAX) return false;
    if (v == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        v = n < 1 ? 1 : n > HLZ_THREADS_MAX ? HLZ_THREADS_MAX : n;
    }
    *out = (int)v;
    return true;
}

/* Returns the value of an option that takes one: "--name=value", "-Xvalue",
 * or the next argument. NULL (after a message) when it is missing. */
static const char *option_value(int argc, char **argv, int *i, const char *inline_value, const char *option)
{
    if (inline_value) return inline_value;
    if (*i + 1 < argc) return argv[++*i];
    say(NULL, "option %s needs a value (see hlz -h)", option);
    return NULL;
}

/* Parses argv; returns -1 to continue, or an exit status. */
static int parse_args(int argc, char **argv, cli *c, char ***files, int *file_count)
{
    *files = calloc((size_t)argc + 1, sizeof **files);
    *file_count = 0;
    if (!*files) return 1;
    bool only_files = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
            (*files)[(*file_count)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) { only_files = true; continue; }
        if (a[1] == '-') {
            char *eq = strchr(a, '=');
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            const char *val = eq ? eq + 1 : NULL;
#define IS(name) (len == strlen(name) && strncmp(a, name, len) == 0)
            if (val && !(IS("--output") || IS("--codec") || IS("--chunk-size") || IS("--threads") || IS("--model") ||
                        IS("--mismatch") || IS("--mix") || IS("--device") || IS("--attention"))) {
                static const char *const flags[] = {"--compress", "--decompress", "--uncompress", "--test",
                                                    "--list", "--stdout", "--to-stdout", "--force", "--keep",
                                                    "--rm", "--verbose", "--quiet", "--help", "--version"};
                for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++)
                    if (IS(flags[f])) {
                        say(NULL, "option '%s' takes no value (see hlz -h)", flags[f]);
                        return 1;
                    }
            }
            if (IS("--compress")) c->mode = MODE_COMPRESS;
            else if (IS("--decompress") || IS("--uncompress")) c->mode = MODE_DECOMPRESS;
            else if (IS("--test")) c->mode = MODE_TEST;
            else if (IS("--list")) c->mode = MODE_LIST;
            else if (IS("--stdout") || IS("--to-stdout")) c->to_stdout = true;
            else if (IS("--force")) c->force = true;
            else if (IS("--keep")) c->remove_input = false;
            else if (IS("--rm")) c->remove_input = true;
            else if (IS("--verbose")) c->verbose++;
            else if (IS("--quiet")) c->quiet = true;
            else if (IS("--help")) { usage(stdout); return 0; }
            else if (IS("--version")) { printf("hlz %s (format %d)\n", HLZ_VERSION_STRING, HLZ_FORMAT_VERSION); return 0; }
            else if (IS("--output")) {
                if (!(c->output = option_value(argc, argv, &i, val, "--output"))) return 1;
            } else if (IS("--codec")) {
                const char *v = option_value(argc, argv, &i, val, "--codec");
                if (!v) return 1;
                if (hlz_codec_from_name(v, &c->lib.codec) != 0 ||
                    (c->lib.codec != HLZ_CODEC_AUTO && c->lib.codec != HLZ_CODEC_ZSTD &&
                     c->lib.codec != HLZ_CODEC_STORE && c->lib.codec != HLZ_CODEC_LLM &&
                     c->lib.codec != HLZ_CODEC_ROBUST && c->lib.codec != HLZ_CODEC_FLOAT &&
                     c->lib.codec != HLZ_CODEC_CM)) {
                    say(NULL, "unknown codec '%s' (this build has auto, llm, float, cm, zstd, store, robust)", v);
                    return 1;
                }
            } else if (IS("--chunk-size")) {
                const char *v = option_value(argc, argv, &i, val, "--chunk-size");
                if (!v) return 1;
                if (!parse_size(v, &c->lib.chunk_size) || c->lib.chunk_size < HLZ_CHUNK_SIZE_MIN ||
                    c->lib.chunk_size > HLZ_CHUNK_SIZE_MAX) {
                    say(NULL, "invalid chunk size '%s' (1K..64M)", v);
                    return 1;
                }
            } else if (IS("--mismatch")) {
                const char *v = option_value(argc, argv, &i, val, "--mismatch");
                if (!v) return 1;
                char *end;
                c->lib.mismatch = strtod(v, &end);
                if (end == v || *end || !(c->lib.mismatch > 1.0 && c->lib.mismatch <= 65535.0)) {
                    say(NULL, "invalid mismatch '%s' (a number C with 1 < C <= 65535)", v);
                    return 1;
                }
            } else if (IS("--mix")) {
                const char *v = option_value(argc, argv, &i, val, "--mix");
                if (!v) return 1;
                int parts = hlz_mix_from_name(v);
                if (parts < 0) {
                    say(NULL, "invalid mix '%s' (none, match, context or full)", v);
                    return 1;
                }
                c->lib.mix = (unsigned)parts;
            } else if (IS("--attention")) {
                const char *v = option_value(argc, argv, &i, val, "--attention");
                if (!v) return 1;
                if (strcmp(v, "float") == 0) c->lib.attention = HLZ_ATTENTION_FLOAT;
                else if (strcmp(v, "int8") == 0) c->lib.attention = HLZ_ATTENTION_INT8;
                else {
                    say(NULL, "invalid attention '%s' (float or int8)", v);
                    return 1;
                }
            } else if (IS("--model")) {
                if (!(c->model_path = option_value(argc, argv, &i, val, "--model"))) return 1;
            } else if (IS("--device")) {
                const char *v = option_value(argc, argv, &i, val, "--device");
                if (!v) return 1;
                if (strcmp(v, "auto") == 0) c->device = HLZ_DEVICE_AUTO;
                else if (strcmp(v, "cpu") == 0) c->device = HLZ_DEVICE_CPU;
                else if (strcmp(v, "cuda") == 0) c->device = HLZ_DEVICE_CUDA;
                else {
                    say(NULL, "unknown device '%s' (auto, cpu or cuda)", v);
                    return 1;
                }
                c->device_arg = v;
            } else if (IS("--threads")) {
                const char *v = option_value(argc, argv, &i, val, "--threads");
                if (!v) return 1;
                if (!parse_threads(v, &c->lib.threads)) {
                    say(NULL, "invalid thread count '%s' (0..%d)", v, HLZ_THREADS_MAX);
                    return 1;
                }
            } else {
                say(NULL, "unknown option '%s' (see hlz -h)", a);
                return 1;
            }
#undef IS
            continue;
        }
        for (char *p = a + 1; *p; p++) {
            switch (*p) {
            case 'z': c->mode = MODE_COMPRESS; break;
            case 'd': c->mode = MODE_DECOMPRESS; break;
            case 't': c->mode = MODE_TEST; break;
            case 'l': c->mode = MODE_LIST; break;
            case 'c': c->to_stdout = true; break;
            case 'f': c->force = true; break;
            case 'k': c->remove_input = false; break;
            case 'v': c->verbose++; break;
            case 'q': c->quiet = true; break;
            case 'h': usage(stdout); return 0;
            case 'V': printf("hlz %s (format %d)\n", HLZ_VERSION_STRING, HLZ_FORMAT_VERSION); return 0;
            case 'o':
            case 'T': {
                char opt[3] = {'-', *p, 0};
                const char *v = option_value(argc, argv, &i, p[1] ? p + 1 : NULL, opt);
                if (!v) return 1;
                if (*p == 'o') c->output = v;
                else if (!parse_threads(v, &c->lib.threads)) {
                    say(NULL, "invalid thread count '%s' (0..%d)", v, HLZ_THREADS_MAX);
                    return 1;
                }
                p += strlen(p) - 1; /* the rest of this argument was the value */
                break;
            }
            default:
                if (*p >= '1' && *p <= '9') { c->lib.level = *p - '0'; break; }
                say(NULL, "unknown option '-%c' (see hlz -h)", *p);
                return 1;
            }
        }
    }
    return -1;
}

int main(int argc, char **argv)
{
    cli c = {0};
    hlz_options_default(&c.lib);
    c.device_arg = "auto";
    int threads;
    parse_threads("0", &threads);
    c.lib.threads = threads;
    char **files;
    int count;
    int rc = parse_args(argc, argv, &c, &files, &count);
    if (rc >= 0) {
        free(files);
        return rc;
    }
    if (count == 0) files[count++] = "-";
    if (c.output && count > 1) {
        say(NULL, "-o takes one input file, but %d were given", count);
        free(files);
        return 1;
    }
    if (c.output && c.to_stdout) {
        say(NULL, "-c and -o both name the output; give one of them");
        free(files);
        return 1;
    }
    if (c.output && (c.mode == MODE_TEST || c.mode == MODE_LIST)) {
        say(NULL, "-o does not apply to -t or -l");
        free(files);
        return 1;
    }
    if (c.mode == MODE_COMPRESS && (c.lib.codec == HLZ_CODEC_ROBUST) != (c.lib.mismatch > 0)) {
        say(NULL, c.lib.mismatch > 0 ? "--mismatch applies only to --codec robust"
                                     : "--codec robust needs --mismatch C (e.g. --mismatch 2)");
        free(files);
        return 1;
    }
    if (c.mode != MODE_LIST && c.lib.codec != HLZ_CODEC_STORE && c.lib.codec != HLZ_CODEC_ZSTD &&
        c.lib.codec != HLZ_CODEC_FLOAT && open_model(&c) != 0) {
        free(files);
        return 1;
    }
    install_signal_handlers();
    rc = 0;
    for (int i = 0; i < count; i++) {
        int r = c.mode == MODE_LIST ? list_file(&c, files[i]) : process_file(&c, files[i]);
        if (r) rc = 1;
    }
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == 0) {
        say(NULL, "write error on standard output: %s", strerror(errno));
        rc = 1;
    }
    hlz_model_free(c.lib.model);
    free(files);
    return rc;
}
