#!/bin/bash
# bench/report.sh [--meta FILE] [--out BASE] RESULTS.csv... - tables and plot.
#
# Reads one or more CSVs written by bench/run.sh or bench/run_gpu.sh (same
# columns) and writes
#   BASE.md   bits per byte per file and compressor (best of each row in bold),
#             mean and total rows, and a speed table per compressor;
#   BASE.png  bits per byte against compression speed (log scale), one point
#             per compressor, averaged over the text files (needs gnuplot).
# BASE defaults to the first CSV without .csv. --meta FILE puts FILE's lines
# (markdown) under the title. When the CSVs hold one compressor from several
# machines, devices or models, its columns are told apart as NAME@device,
# NAME@machine and NAME (model). Rows with status "timeout" are shown as
# timeouts and never enter a mean, a total or the plot.
#
# Example, a CPU and a GPU run in one table:
#   sh bench/report.sh --out bench/results/combined bench/results/A.csv bench/results/B-gpu.csv
set -u
export LC_ALL=C
me=report.sh
die() {
    echo "$me: ERROR: $*" >&2
    exit 1
}

meta=''
out=''
csvs=()
while [ $# -gt 0 ]; do
    case $1 in
    --meta) meta=${2:?}; shift ;;
    --out) out=${2:?}; shift ;;
    -h | --help) sed -n '2,/^set -u/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) csvs+=("$1") ;;
    esac
    shift
done
[ ${#csvs[@]} -gt 0 ] || die "no CSV given (see $0 --help)"
for f in "${csvs[@]}"; do [ -r "$f" ] || die "cannot read $f"; done
[ -n "$out" ] || out=${csvs[0]%.csv}

work=$(mktemp -d) || exit 2
trap 'rm -rf "$work"' EXIT

title=$(basename "$out")
awk -F, -v title="$title" -v meta="$meta" -v plotdata="$work/plot.dat" -v sources="${csvs[*]}" '
function col(name) { return (name in H) ? $(H[name]) : "" }
function rank(c,    i) {
    for (i = 1; i <= NORDER; i++) if (ORDER[i] == c) return i
    return NORDER + 1
}
BEGIN { NORDER = split("hlz-zstd hlz-cm hlz-auto hlz-llm gzip-9 bzip2-9 xz-9e zstd-19-long27 zstd-22-long27 brotli-11 bzip3 7z-ppmd zpaq-m5", ORDER, " ") }
function fmt(x) { return sprintf("%.3f", x) }
function mbs(b, t) { return t > 0 ? sprintf("%.3g", b / t / 1e6) : "–" }
FNR == 1 { delete H; for (i = 1; i <= NF; i++) H[$i] = i; next }
{
    f = col("file"); c = col("compressor")
    if (f == "" || c == "") next
    n++
    R_file[n] = f; R_c[n] = c; R_bytes[n] = col("bytes"); R_kind[n] = col("kind")
    R_size[n] = col("compressed_bytes"); R_ct[n] = col("compress_s"); R_dt[n] = col("decompress_s")
    R_status[n] = col("status"); R_mach[n] = col("machine"); R_dev[n] = col("device")
    R_model[n] = col("model"); R_thr[n] = col("threads"); R_ver[n] = col("version"); R_cmd[n] = col("command")
    R_hw[n] = col("hardware"); R_rep[n] = col("repeats")
    if (R_kind[n] == "") R_kind[n] = "text"
    k = c SUBSEP "dev"; if (!((k, R_dev[n]) in seen)) { seen[k, R_dev[n]] = 1; ndev[c]++ }
    k = c SUBSEP "mach"; if (!((k, R_mach[n]) in seen)) { seen[k, R_mach[n]] = 1; nmach[c]++ }
    k = c SUBSEP "model"; if (!((k, R_model[n]) in seen)) { seen[k, R_model[n]] = 1; nmodel[c]++ }
    m = R_mach[n] " (" R_dev[n] "): " R_hw[n]
    if (!(m in mseen)) { mseen[m] = 1; machines[++nm] = m }
}
END {
    if (n == 0) { print "report.sh: no rows" > "/dev/stderr"; exit 1 }
    # labels and their order (first appearance); files by kind, then path
    for (i = 1; i <= n; i++) {
        l = R_c[i]
        if (ndev[R_c[i]] > 1) l = l "@" R_dev[i]
        if (nmach[R_c[i]] > 1) l = l "@" R_mach[i]
        if (nmodel[R_c[i]] > 1) l = l " (" (R_model[i] == "" ? "no model" : R_model[i]) ")"
        if (!(l in lseen)) { lseen[l] = 1; L[++nl] = l; LR[l] = rank(R_c[i]) * 1000 + nl; LT[l] = R_thr[i]; LD[l] = R_dev[i]; LC[l] = R_cmd[i]; LV[l] = R_ver[i]; LM[l] = R_model[i] }
        if (!(R_file[i] in fseen)) { fseen[R_file[i]] = 1; FB[R_file[i]] = R_bytes[i]; FK[R_file[i]] = R_kind[i]; F[++nf] = R_file[i] }
        key = R_file[i] SUBSEP l
        ST[key] = R_status[i]
        if (R_status[i] == "ok") { SZ[key] = R_size[i]; CT[key] = R_ct[i]; DT[key] = R_dt[i] }
        else { delete SZ[key] }
    }
    # columns: hlz first, then the peers in run.sh order, then anything else
    for (i = 2; i <= nl; i++) { v = L[i]; for (j = i - 1; j >= 1 && LR[L[j]] > LR[v]; j--) L[j + 1] = L[j]; L[j + 1] = v }
    # sort files: text first, then binary, each by path (insertion sort, few files)
    for (i = 1; i <= nf; i++) S[i] = (FK[F[i]] == "text" ? "0" : "1") F[i]
    for (i = 2; i <= nf; i++) { v = S[i]; for (j = i - 1; j >= 1 && S[j] > v; j--) S[j + 1] = S[j]; S[j + 1] = v }
    ntext = 0
    for (i = 1; i <= nf; i++) { F[i] = substr(S[i], 2); if (FK[F[i]] == "text") ntext++ }

    print "# hlz benchmark: " title
    print ""
    if (meta != "") { while ((getline line < meta) > 0) print line; close(meta) }
    else {
        print "- results: " sources
        for (i = 1; i <= nm; i++) print "- machine: " machines[i]
    }
    print "- bpb = 8 × compressed bytes / original bytes, lower is better; the best of each row is in **bold**."
    print "  `timeout`: the run went past the time limit (no result); `–`: not run. Text files (" ntext ") come first."
    print "- Published figures of systems that do not run here are in [bench/PUBLISHED.md](../PUBLISHED.md), apart from these measurements."
    print ""
    print "## Bits per byte"
    print ""
    hdr = "| file | bytes | kind |"; sep = "|---|---:|---|"
    for (j = 1; j <= nl; j++) { hdr = hdr " " L[j] " |"; sep = sep "---:|" }
    print hdr; print sep
    for (i = 1; i <= nf; i++) {
        f = F[i]; best = ""
        for (j = 1; j <= nl; j++) { key = f SUBSEP L[j]; if (key in SZ) { v = fmt(8 * SZ[key] / FB[f]); if (best == "" || v + 0 < best + 0) best = v } }
        line = "| " f " | " FB[f] " | " FK[f] " |"
        for (j = 1; j <= nl; j++) {
            key = f SUBSEP L[j]
            if (key in SZ) { v = fmt(8 * SZ[key] / FB[f]); cell = (v == best ? "**" v "**" : v) }
            else if ((key in ST) && ST[key] == "timeout") cell = "timeout"
            else cell = "–"
            line = line " " cell " |"
        }
        print line
    }
    # summary rows: a compressor gets a value only when it has a result on every file of the group
    for (g = 1; g <= 3; g++) {
        name = (g == 1 ? "**mean of text files** (" ntext ")" : g == 2 ? "**mean of all files** (" nf ")" : "**all bytes** (total compressed / total original)")
        best = ""
        for (j = 1; j <= nl; j++) {
            cnt = 0; sum = 0; sb = 0; ss = 0; complete = 1
            for (i = 1; i <= nf; i++) {
                f = F[i]; if (g == 1 && FK[f] != "text") continue
                key = f SUBSEP L[j]
                if (!(key in SZ)) { complete = 0; continue }
                cnt++; sum += 8 * SZ[key] / FB[f]; sb += FB[f]; ss += SZ[key]
            }
            V[j] = ""
            if (complete && cnt > 0) V[j] = fmt(g == 3 ? 8 * ss / sb : sum / cnt)
            if (V[j] != "" && (best == "" || V[j] + 0 < best + 0)) best = V[j]
        }
        line = "| " name " | | |"
        for (j = 1; j <= nl; j++) line = line " " (V[j] == "" ? "–" : (V[j] == best ? "**" V[j] "**" : V[j])) " |"
        print line
    }
    # The plot set: compressors with text results, and the text files every one
    # of them finished; while that is under half of the text files, the
    # compressor with the fewest text results leaves the plot.
    na = 0
    for (j = 1; j <= nl; j++) {
        TC[j] = 0
        for (i = 1; i <= nf; i++) if (FK[F[i]] == "text" && ((F[i] SUBSEP L[j]) in SZ)) TC[j]++
        IN_PLOT[j] = (TC[j] > 0); na += IN_PLOT[j]
    }
    while (1) {
        ncommon = 0
        for (i = 1; i <= nf; i++) {
            f = F[i]; COMMON[f] = 0
            if (FK[f] != "text") continue
            ok = 1
            for (j = 1; j <= nl; j++) if (IN_PLOT[j] && !((f SUBSEP L[j]) in SZ)) ok = 0
            if (ok) { COMMON[f] = 1; ncommon++ }
        }
        if (2 * ncommon >= ntext || na <= 1) break
        worst = 0
        for (j = 1; j <= nl; j++) if (IN_PLOT[j] && (worst == 0 || TC[j] <= TC[worst])) worst = j
        IN_PLOT[worst] = 0; na--
    }
    if (ncommon > 0 && ncommon < ntext) {
        best = ""
        for (j = 1; j <= nl; j++) {
            V[j] = ""
            if (!IN_PLOT[j]) continue
            sum = 0; for (i = 1; i <= nf; i++) if (COMMON[F[i]]) sum += 8 * SZ[F[i] SUBSEP L[j]] / FB[F[i]]
            V[j] = fmt(sum / ncommon)
            if (best == "" || V[j] + 0 < best + 0) best = V[j]
        }
        line = "| **mean of the " ncommon " text files finished by every plotted compressor** | | |"
        for (j = 1; j <= nl; j++) line = line " " (V[j] == "" ? "–" : (V[j] == best ? "**" V[j] "**" : V[j])) " |"
        print line
        common_list = ""
        for (i = 1; i <= nf; i++) if (COMMON[F[i]]) common_list = common_list (common_list == "" ? "" : ", ") F[i]
    }
    print ""
    print "Means and totals are left out (`–`) for a compressor that lacks a result on some file of the group."
    if (common_list != "") print "The plot averages over the text files that every plotted compressor finished: " common_list "."
    print ""
    print "## Speed"
    print ""
    print "MB/s = 10^6 bytes per second: the summed original bytes over the summed median wall times (whole processes,"
    print "start-up included, so small files weigh little and tools that load a model pay for it on every file)."
    print ""
    print "| compressor | threads | device | compress MB/s, text | decompress MB/s, text | compress MB/s, all | decompress MB/s, all | files (timeouts) | plot: bpb, compress MB/s | command | version |"
    print "|---|---:|---|---:|---:|---:|---:|---:|---|---|---|"
    for (j = 1; j <= nl; j++) {
        tb = 0; tc = 0; td = 0; ab = 0; ac = 0; ad = 0; cnt = 0; to = 0; pb = 0; pc = 0; ps = 0
        for (i = 1; i <= nf; i++) {
            f = F[i]; key = f SUBSEP L[j]
            if ((key in ST) && ST[key] == "timeout") to++
            if (!(key in SZ)) continue
            cnt++; ab += FB[f]; ac += CT[key]; ad += DT[key]
            if (FK[f] == "text") { tb += FB[f]; tc += CT[key]; td += DT[key] }
            if (IN_PLOT[j] && COMMON[f]) { pb += FB[f]; pc += CT[key]; ps += 8 * SZ[key] / FB[f] }
        }
        plot = "–"
        if (IN_PLOT[j] && ncommon > 0 && pc > 0) {
            plot = fmt(ps / ncommon) ", " mbs(pb, pc)
            printf "\"%s\" %.6g %.6f %d\n", L[j], pb / pc / 1e6, ps / ncommon, (L[j] ~ /^hlz/ ? 1 : 2) > plotdata
        } else notplot = notplot (notplot == "" ? "" : ", ") L[j]
        printf "| %s | %s | %s | %s | %s | %s | %s | %d%s | %s | `%s` | %s |\n", L[j], LT[L[j]], LD[L[j]],
            (tb ? mbs(tb, tc) : "–"), (tb ? mbs(tb, td) : "–"), mbs(ab, ac), mbs(ab, ad), cnt, (to ? " (" to ")" : ""), plot, LC[L[j]], LV[L[j]]
    }
    print ""
    if (notplot != "") print "Not in the plot (too few text files finished): " notplot "."
    print ncommon > (plotdata ".n")
    close(plotdata)
}' "${csvs[@]}" >"$work/report.md" || die "could not read the CSVs"
mkdir -p "$(dirname "$out")" || die "cannot create $(dirname "$out")"

png=''
if [ -s "$work/plot.dat" ]; then
    if ! command -v gnuplot >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "$me: installing gnuplot-nox for the plot" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null 2>&1; }
    fi
    if command -v gnuplot >/dev/null 2>&1; then
        term='pngcairo size 1300,750 font "Sans,11"'
        echo 'set terminal' | gnuplot 2>&1 | grep -q pngcairo || term='png size 1300,750'
        ntf=$(cat "$work/plot.dat.n")
        cat >"$work/plot.gp" <<EOF
set terminal $term
set output '$out.png'
set title "$title: bits per byte against compression speed, mean over $ntf text files\n(one point per compressor; lower is smaller, further right is faster; hlz: blue circles)"
set logscale x 10
set format x "%g"
set xtics add (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
set xlabel 'compression speed, MB/s (log scale): summed bytes / summed median wall times'
set ylabel 'bits per byte (mean over $ntf text files)'
set grid xtics ytics mxtics
set key outside right top vertical Left reverse noenhanced spacing 1.3 title 'compressor: bpb, MB/s'
set offsets graph 0.05, graph 0.05, graph 0.06, graph 0.06
EOF
        # One series per compressor, with its own colour and symbol and its
        # values in the key: hlz as filled circles in blues, the peers in other shapes.
        awk -v dat="$work/plot.dat" -v q="'" '
        BEGIN {
            nb = split("#1f4fbf #3b8fe0 #0b2e6e #5fb0ff #2a6f97 #163a5f", blue, " ")
            np = split("#c0392b #e67e22 #27ae60 #8e44ad #7f8c8d #9a7d0a #16a085 #a04000 #e84393 #2c3e50 #6d214f #218c74", peer, " ")
            nt = split("5 9 11 13 15 4 6 8 10 12 14 2", pts, " ")
        }
        {
            # a line: "label" speed bpb group
            label = $0; sub(/^"/, "", label); sub(/".*/, "", label)
            rest = $0; sub(/^"[^"]*" /, "", rest)
            split(rest, v, " ")
            if (v[3] == 1) { c = blue[(h++ % nb) + 1]; pt = 7; ps = 1.7 }
            else { c = peer[(p % np) + 1]; pt = pts[(p % nt) + 1]; p++; ps = 1.5 }
            printf "%s%s%s%s every ::%d::%d using 2:3 with points pt %d ps %s lc rgb %s%s%s title \"%s: %.3f, %.3g\"",
                (NR == 1 ? "plot " : ", \\\n     "), q, dat, q, NR - 1, NR - 1, pt, ps, q, c, q, label, v[2], v[1]
        }
        END { print "" }' "$work/plot.dat" >>"$work/plot.gp"
        if gnuplot "$work/plot.gp" 2>"$work/gp.err"; then
            png=$out.png
        else
            cat "$work/gp.err" >&2
            echo "$me: gnuplot failed; no plot" >&2
        fi
    else
        echo "$me: no gnuplot (Debian package gnuplot-nox); no plot" >&2
    fi
else
    echo "$me: no compressor has a result on every text file; no plot" >&2
fi
{
    cat "$work/report.md"
    if [ -n "$png" ]; then
        echo
        echo "![bits per byte against compression speed]($(basename "$png"))"
    fi
} >"$out.md"
echo "$me: wrote $out.md${png:+ and $png}" >&2
