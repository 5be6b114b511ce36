# bench/gpu_report.sh - sourced by the bench scripts (. "$(dirname "$0")/gpu_report.sh"): sets -u
# and LC_ALL=C and makes the repository root the working folder; then
#   report_open DEFAULT_DIR FILE
# sets R (the output folder: $OUT, else DEFAULT_DIR), REPORT (R/FILE, emptied), W (a temporary
# folder removed at exit) and starts the report with the script, the date, the commit and, where
# nvidia-smi exists, the GPU; say prints its arguments and appends them to the report.
#   make_corpus BENCH_DIR BYTES FILE
# writes FILE: the bench's text files concatenated, repeated and cut to BYTES.
set -u
export LC_ALL=C
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
say() { echo "$*" | tee -a "$REPORT"; }
report_open() {
    R=${OUT:-$1}
    mkdir -p "$R" || exit 2
    REPORT=$R/$2
    : >"$REPORT"
    W=$(mktemp -d) || exit 2
    trap 'rm -rf "$W"' EXIT
    say "# bench/$(basename "$0") $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo '+changes')"
    if command -v nvidia-smi >/dev/null; then
        say "# GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1); $(nproc) CPU cores"
    fi
}
make_corpus() {
    local files="" f
    for f in canterbury/alice29.txt canterbury/asyoulik.txt canterbury/cp.html canterbury/fields.c \
        canterbury/grammar.lsp canterbury/lcet10.txt canterbury/plrabn12.txt canterbury/xargs.1 enwik/enwik5 \
        snappy/html snappy/urls.10K; do
        [ -f "$1/$f" ] && files="$files $1/$f"
    done
    [ -n "$files" ] && cat $files >"$3.unit" || { echo "no bench text files in $1" >&2; return 1; }
    : >"$3"
    while [ "$(stat -c %s "$3")" -lt "$2" ]; do cat "$3.unit" >>"$3"; done
    truncate -s "$2" "$3"
    rm -f "$3.unit"
}
