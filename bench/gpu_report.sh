# bench/gpu_report.sh - sourced by the GPU bench scripts (from the repository root):
#   report_open DEFAULT_DIR FILE
# sets R (the output folder: $OUT, else DEFAULT_DIR), REPORT (R/FILE, emptied), W (a temporary
# folder removed at exit); say prints its arguments and appends them to the report.
say() { echo "$*" | tee -a "$REPORT"; }
report_open() {
    R=${OUT:-$1}
    mkdir -p "$R" || exit 2
    REPORT=$R/$2
    : >"$REPORT"
    W=$(mktemp -d) || exit 2
    trap 'rm -rf "$W"' EXIT
}
