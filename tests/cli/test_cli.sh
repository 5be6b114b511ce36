#!/bin/sh
# tests/cli/test_cli.sh - the command-line behaviour of hlz, as a user of
# gzip, xz or zstd expects it: file naming, refusals, exit codes, messages,
# temporary files, permissions, pipes, tar, terminals.
#
# Usage (from the repository root): HLZ=/abs/path/to/build/hlz sh tests/cli/test_cli.sh
# Prints one line per case: "ok NAME", "FAIL NAME: why" or "skip NAME: why",
# and exits non-zero if any case failed. All work happens in a mktemp -d
# directory that is removed at exit; inputs are generated (small, a few
# seconds in all on two cores).
# shellcheck disable=SC2317 # the assertion helpers are called through need
set -u
umask 022
LC_ALL=C
export LC_ALL

HLZ=${HLZ:-build/hlz}
case $HLZ in /*) ;; *) HLZ=$(pwd)/$HLZ ;; esac
if [ ! -x "$HLZ" ]; then
    echo "FAIL setup: $HLZ is not an executable (build it with make, or set HLZ)"
    exit 1
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/hlz-cli.XXXXXX") || { echo "FAIL setup: mktemp -d failed"; exit 1; }
trap 'cd /; rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP
failed=0

# ---- helpers ---------------------------------------------------------------

# begin NAME: starts a case in a fresh, empty directory (the current one).
n=0
begin() {
    name=$1
    why=
    n=$((n + 1))
    mkdir "$T/c$n" && cd "$T/c$n" || why="cannot create the case directory"
}

# end: prints the case's line.
end() {
    if [ -z "$why" ]; then
        echo "ok $name"
    else
        echo "FAIL $name: $why"
        failed=1
    fi
    cd "$T" || exit 1
}

skip() { echo "skip $1: $2"; }

# run CMD...: runs CMD with stdout in $T/out and stderr in $T/err; sets rc.
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# need WHY CMD...: records WHY (with the last run's status and stderr) as the
# case's failure unless CMD succeeds. Only the first failure of a case counts.
need() {
    [ -z "$why" ] || return 0
    msg=$1
    shift
    if ! "$@"; then
        why="$msg [last run: rc=${rc:-?}, stderr: $(head -c 300 "$T/err" 2>/dev/null | tr '\n' '|')]"
    fi
}

rc_is() { [ "$rc" -eq "$1" ]; }
err_has() { grep -qF -- "$1" "$T/err"; }
err_has_re() { grep -qE -- "$1" "$T/err"; }
err_empty() { [ ! -s "$T/err" ]; }
out_empty() { [ ! -s "$T/out" ]; }
out_has() { grep -qF -- "$1" "$T/out"; }
same() { cmp -s -- "$1" "$2"; }
exists() { [ -e "$1" ]; }
absent() { [ ! -e "$1" ] && [ ! -L "$1" ]; }
size_of() { wc -c <"$1" | tr -d ' '; }
# every stderr line starts with "hlz: " (an empty stderr passes too)
err_prefixed() { ! grep -qv '^hlz: ' "$T/err"; }
# no hidden temporary file (.NAME.XXXXXX) left in the current directory
no_temp() { [ -z "$(find . -name '.*.??????' -print)" ]; }
# decodes archive $1 to stdout and compares it with file $2
decodes_to() { "$HLZ" -dc -- "$1" 2>/dev/null | cmp -s - "$2"; }

# flip FILE OFFSET: inverts every bit of the byte at OFFSET in place.
flip() {
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
}

# chunk_lines: the chunk lines of an `hlz -l` listing in $T/out
chunk_lines() {
    grep -E '^ *[0-9]+ +[0-9]+ +[0-9]+ +[0-9.]+% +[0-9.]+  (store|zstd|cm)$' "$T/out"
}

# ---- inputs --------------------------------------------------------------------

D=$T/data
mkdir "$D" || exit 1
# Deterministic English-like text (an LCG over a word list), exactly N bytes.
gen_text() {
    awk -v N="$1" 'BEGIN {
        nw = split("the of and to in a is that for it as was with be by on not he this are or his " \
                   "from at which but have an they you were her she there one all we their been has " \
                   "when who will more no if out so said what up its about into than them can only " \
                   "other new some could time these two may then do first any my now such like our " \
                   "over man me even most made after also did many before must through back years " \
                   "where much your way well down should because each just those people how too " \
                   "little state good very make world still own see men work long get here between " \
                   "both life being under never day same another know while last might great old", w, " ")
        x = 20250101; len = 0; line = 0
        while (len < N) {
            x = (x * 69069 + 1) % 4294967296
            word = w[int(x / 65536) % nw + 1]
            line++
            if (line % 13 == 0) { s = word ".\n" } else { s = word " " }
            printf "%s", s
            len += length(s)
        }
    }' | head -c "$1"
}
gen_text 102400 >"$D/text" # 100 KiB = 25 chunks of 4 KiB
head -c 5000 "$D/text" >"$D/small"
head -c 300000 /dev/urandom >"$D/rand"
gen_text 2097152 >"$D/big" # 2 MiB, for the progress line
for f in text small rand big; do
    if [ ! -s "$D/$f" ]; then echo "FAIL setup: could not generate $D/$f"; exit 1; fi
done
# reference archives
for f in text small rand; do
    if ! "$HLZ" -T 2 -c "$D/$f" >"$D/$f.hlz"; then echo "FAIL setup: cannot compress $D/$f"; exit 1; fi
done

# ---- compress and decompress files -------------------------------------------------

begin compress_file_keeps_input
cp "$D/text" f
run "$HLZ" -T 2 f
need "exit status is not 0" rc_is 0
need "f.hlz was not written" exists f.hlz
need "the input f was not kept unchanged" same f "$D/text"
need "f.hlz differs from the archive written with -c" same f.hlz "$D/text.hlz"
need "stdout is not empty" out_empty
need "stderr is not empty (no -v, not a terminal)" err_empty
need "a temporary file was left behind" no_temp
end

begin decompress_file
cp "$D/text.hlz" f.hlz
run "$HLZ" -T 2 -d f.hlz
need "exit status is not 0" rc_is 0
need "f was not restored byte-exactly" same f "$D/text"
need "f.hlz was not kept" same f.hlz "$D/text.hlz"
need "stderr is not empty" err_empty
need "a temporary file was left behind" no_temp
end

begin decompress_refuses_existing_output
cp "$D/text.hlz" f.hlz
echo precious >f
run "$HLZ" -T 2 -d f.hlz
need "exit status is not 1" rc_is 1
need "no 'hlz: f: ... already exists' message" err_has_re '^hlz: f: .*already exists'
need "the existing f was modified" [ "$(cat f)" = precious ]
need "a temporary file was left behind" no_temp
end

begin decompress_force_overwrites
cp "$D/text.hlz" f.hlz
echo precious >f
run "$HLZ" -T 2 -d -f f.hlz
need "exit status is not 0" rc_is 0
need "f was not restored byte-exactly" same f "$D/text"
need "a temporary file was left behind" no_temp
end

begin compress_refuses_existing_output
cp "$D/text" f
echo old >f.hlz
run "$HLZ" -T 2 f
need "exit status is not 1" rc_is 1
need "no 'hlz: f.hlz: ... already exists' message" err_has_re '^hlz: f\.hlz: .*already exists'
need "the existing f.hlz was modified" [ "$(cat f.hlz)" = old ]
run "$HLZ" -T 2 -f f
need "-f: exit status is not 0" rc_is 0
need "-f: f.hlz was not overwritten with the archive" same f.hlz "$D/text.hlz"
need "a temporary file was left behind" no_temp
end

begin keep_option
cp "$D/text" f
run "$HLZ" -T 2 -k f
need "compress -k: exit status is not 0" rc_is 0
need "compress -k: f or f.hlz missing" same f.hlz "$D/text.hlz"
need "compress -k: f was not kept" same f "$D/text"
run "$HLZ" -T 2 --keep -d -f f.hlz
need "decompress --keep: exit status is not 0" rc_is 0
need "decompress --keep: f.hlz was not kept" exists f.hlz
need "decompress --keep: f differs" same f "$D/text"
end

begin several_files
cp "$D/text" a
cp "$D/small" b
run "$HLZ" -T 2 a b
need "compress: exit status is not 0" rc_is 0
need "a.hlz is wrong" decodes_to a.hlz "$D/text"
need "b.hlz is wrong" decodes_to b.hlz "$D/small"
rm a b
run "$HLZ" -T 2 -d a.hlz b.hlz
need "decompress: exit status is not 0" rc_is 0
need "a was not restored" same a "$D/text"
need "b was not restored" same b "$D/small"
end

begin file_in_subdirectory
mkdir sub
cp "$D/small" sub/f
run "$HLZ" -T 2 sub/f
need "compress: exit status is not 0" rc_is 0
need "sub/f.hlz was not written beside its input" exists sub/f.hlz
need "an output was written to the current directory" absent f.hlz
rm sub/f
run "$HLZ" -T 2 -d sub/f.hlz
need "decompress: exit status is not 0" rc_is 0
need "sub/f was not restored" same sub/f "$D/small"
need "an output was written to the current directory" absent f
need "a temporary file was left behind" no_temp
end

begin odd_file_names
cp "$D/small" ./-dash
cp "$D/small" 'a b'
run "$HLZ" -T 2 -- -dash 'a b'
need "compress: exit status is not 0" rc_is 0
need "-dash.hlz is wrong" decodes_to ./-dash.hlz "$D/small"
need "'a b.hlz' is wrong" decodes_to 'a b.hlz' "$D/small"
rm ./-dash 'a b'
run "$HLZ" -T 2 -d -- -dash.hlz 'a b.hlz'
need "decompress: exit status is not 0" rc_is 0
need "-dash was not restored" same ./-dash "$D/small"
need "'a b' was not restored" same 'a b' "$D/small"
end

begin same_input_and_output
cp "$D/small" f
run "$HLZ" -T 2 -f -o f f
need "exit status is not 1" rc_is 1
need "no 'same file' message naming f" err_has_re '^hlz: f: .*same file'
need "the input was modified" same f "$D/small"
end

# ---- standard output, -o, option forms -----------------------------------------------------

begin stdout_compress
cp "$D/text" f
run "$HLZ" -T 2 -c f
need "exit status is not 0" rc_is 0
need "stdout is not the archive" same "$T/out" "$D/text.hlz"
need "-c wrote f.hlz" absent f.hlz
need "-c did not keep f" same f "$D/text"
need "stderr is not empty" err_empty
run "$HLZ" -T 2 --stdout f
need "--stdout: stdout is not the archive" same "$T/out" "$D/text.hlz"
end

begin stdout_decompress
cp "$D/text.hlz" f.hlz
for opts in "-d -c" -dc -cd "--decompress --stdout" "--uncompress --to-stdout"; do
    # shellcheck disable=SC2086
    run "$HLZ" -T 2 $opts f.hlz
    need "$opts: exit status is not 0" rc_is 0
    need "$opts: stdout differs from the original" same "$T/out" "$D/text"
    need "$opts: a file f was written" absent f
    need "$opts: f.hlz was not kept" exists f.hlz
done
end

begin output_option
cp "$D/text" f
run "$HLZ" -T 2 -o out.hlz f
need "compress: exit status is not 0" rc_is 0
need "out.hlz is not the archive" same out.hlz "$D/text.hlz"
need "f.hlz was written too" absent f.hlz
run "$HLZ" -T 2 -d -o g out.hlz
need "decompress -o: exit status is not 0" rc_is 0
need "decompress -o: g differs" same g "$D/text"
run "$HLZ" -T 2 -d --output=h out.hlz
need "--output=h: h differs" same h "$D/text"
run "$HLZ" -T 2 -oi f
need "-oi: i is not the archive" same i "$D/text.hlz"
run "$HLZ" -T 2 -o out.hlz f
need "existing -o output without -f: exit status is not 1" rc_is 1
need "existing -o output: no 'already exists' message" err_has_re '^hlz: out\.hlz: .*already exists'
need "a temporary file was left behind" no_temp
end

begin output_with_two_inputs
cp "$D/small" a
cp "$D/small" b
run "$HLZ" -T 2 -o out.hlz a b
need "exit status is not 1" rc_is 1
need "no message about -o" err_has_re '^hlz: .*-o'
need "out.hlz was written" absent out.hlz
need "a.hlz or b.hlz was written" eval 'absent a.hlz && absent b.hlz'
run "$HLZ" -t -o out f.hlz
need "-o with -t: exit status is not 1" rc_is 1
run "$HLZ" -c -o out.hlz a
need "-c with -o: exit status is not 1" rc_is 1
need "-c with -o: no message naming both" err_has_re '^hlz: -c and -o'
need "-c with -o: out.hlz was written" absent out.hlz
end

begin thread_options
cp "$D/text" f
for opts in -T2 "-T 2" --threads=2 "--threads 2" "-T 0" -T1 "-T 7"; do
    # shellcheck disable=SC2086
    run "$HLZ" $opts -c f
    need "$opts: exit status is not 0" rc_is 0
    need "$opts: the archive bytes depend on the thread count" same "$T/out" "$D/text.hlz"
done
run "$HLZ" -T2 -dc "$D/text.hlz"
need "-T2 -dc: output differs" same "$T/out" "$D/text"
for bad in abc 257 -1 "" 2x; do
    run "$HLZ" -T "$bad" -c f
    need "-T '$bad': exit status is not 1" rc_is 1
    need "-T '$bad': no 'invalid thread count' message" err_has 'invalid thread count'
    need "-T '$bad': stdout is not empty" out_empty
done
end

begin levels
cp "$D/text" f
run "$HLZ" -T 2 -1 -c f
need "-1: exit status is not 0" rc_is 0
cp "$T/out" fast.hlz
run "$HLZ" -T 2 -9 -c f
need "-9: exit status is not 0" rc_is 0
cp "$T/out" small.hlz
need "-1 archive does not decode" decodes_to fast.hlz f
need "-9 archive does not decode" decodes_to small.hlz f
need "-9 is larger than -1" [ "$(size_of small.hlz)" -le "$(size_of fast.hlz)" ]
need "-9 is not the default" same small.hlz "$D/text.hlz"
run "$HLZ" -0 -c f
need "-0: exit status is not 1" rc_is 1
need "-0: no 'unknown option' message" err_has 'unknown option'
end

# ---- standard input ------------------------------------------------------------------------

begin stdin_to_stdout
run "$HLZ" -T 2 <"$D/text"
need "no file: exit status is not 0" rc_is 0
need "no file: stdout is not the archive" same "$T/out" "$D/text.hlz"
need "no file: stderr is not empty" err_empty
run "$HLZ" -T 2 - <"$D/text"
need "'-': stdout is not the archive" same "$T/out" "$D/text.hlz"
# shellcheck disable=SC2002 # the pipe from cat is the point
cat "$D/text" | "$HLZ" -T 2 | "$HLZ" -T 2 -d >piped 2>"$T/err"
rc=$?
need "cat f | hlz | hlz -d: exit status is not 0" rc_is 0
need "cat f | hlz | hlz -d differs from f" same piped "$D/text"
run "$HLZ" -T 2 -d <"$D/text.hlz"
need "-d from stdin differs" same "$T/out" "$D/text"
run "$HLZ" -T 2 -d - <"$D/text.hlz"
need "-d - differs" same "$T/out" "$D/text"
end

begin stdin_to_output_file
run "$HLZ" -T 2 -o s.hlz <"$D/text"
need "compress: exit status is not 0" rc_is 0
need "s.hlz is not the archive" same s.hlz "$D/text.hlz"
need "s.hlz has mode $(stat -c %a s.hlz), not 644 (0666 & ~umask 022)" [ "$(stat -c %a s.hlz)" = 644 ]
run "$HLZ" -T 2 -d -o s <s.hlz
need "decompress: s differs" same s "$D/text"
need "s has mode $(stat -c %a s), not 644" [ "$(stat -c %a s)" = 644 ]
end

begin empty_input
run "$HLZ" -T 2 </dev/null
need "compress empty stdin: exit status is not 0" rc_is 0
cp "$T/out" e.hlz
need "the archive of nothing is empty" [ -s e.hlz ]
run "$HLZ" -T 2 -d <e.hlz
need "decompress: exit status is not 0" rc_is 0
need "decompress: output is not empty" out_empty
: >empty
run "$HLZ" -T 2 empty
need "compress empty file: exit status is not 0" rc_is 0
rm -f empty
run "$HLZ" -T 2 -d empty.hlz
need "decompress empty.hlz: exit status is not 0" rc_is 0
need "empty was not restored as an empty file" eval '[ -f empty ] && [ ! -s empty ]'
run "$HLZ" -t empty.hlz
need "-t empty.hlz: exit status is not 0" rc_is 0
run "$HLZ" -l empty.hlz
need "-l empty.hlz: exit status is not 0" rc_is 0
need "-l empty.hlz lists chunks" [ -z "$(chunk_lines)" ]
run "$HLZ" -d </dev/null
need "decompress zero bytes: exit status is not 1" rc_is 1
need "decompress zero bytes: no 'not an hlz archive' message" err_has 'not an hlz archive'
end

begin concatenated_archives
cat "$D/text.hlz" "$D/small.hlz" >ab.hlz
cat "$D/text" "$D/small" >ab
run "$HLZ" -T 2 -d <ab.hlz
need "exit status is not 0" rc_is 0
need "output is not the concatenation of the contents" same "$T/out" ab
run "$HLZ" -T 2 -t ab.hlz
need "-t: exit status is not 0" rc_is 0
run "$HLZ" -l ab.hlz
need "-l: exit status is not 0" rc_is 0
need "-l does not show two archive headers" [ "$(grep -c '^ab\.hlz: format ' "$T/out")" -eq 2 ]
end

begin trailing_garbage
cat "$D/small.hlz" >g.hlz
printf 'garbage after the archive\n' >>g.hlz
run "$HLZ" -T 2 -d -c g.hlz
need "-dc: exit status is not 1" rc_is 1
need "-dc: no message naming g.hlz" err_has_re '^hlz: g\.hlz: .*(unexpected data|not an hlz|corrupt|garbage)'
run "$HLZ" -T 2 -t g.hlz
need "-t: exit status is not 1" rc_is 1
run "$HLZ" -T 2 -d g.hlz
need "-d: exit status is not 1" rc_is 1
need "-d: the output g was left" absent g
need "-d: a temporary file was left behind" no_temp
end

# ---- --rm ------------------------------------------------------------------------------------

begin rm_compress
cp "$D/text" f
run "$HLZ" -T 2 --rm f
need "exit status is not 0" rc_is 0
need "the input was not removed" absent f
need "f.hlz is wrong" same f.hlz "$D/text.hlz"
end

begin rm_decompress
cp "$D/text.hlz" f.hlz
run "$HLZ" -T 2 -d --rm f.hlz
need "exit status is not 0" rc_is 0
need "the input f.hlz was not removed" absent f.hlz
need "f is wrong" same f "$D/text"
end

begin rm_keeps_input_on_failure
cp "$D/text.hlz" c.hlz
flip c.hlz $(($(size_of c.hlz) / 2))
run "$HLZ" -T 2 -d --rm c.hlz
need "exit status is not 1" rc_is 1
need "no corrupt/checksum message naming c.hlz" err_has_re '^hlz: c\.hlz: .*(corrupt|checksum)'
need "the input c.hlz was removed" exists c.hlz
need "an output c was left" absent c
need "a temporary file was left behind" no_temp
cp "$D/text" f
echo old >f.hlz
run "$HLZ" -T 2 --rm f
need "existing output: exit status is not 1" rc_is 1
need "existing output: the input f was removed" same f "$D/text"
end

begin rm_with_stdout_keeps_input
cp "$D/text" f
run "$HLZ" -T 2 --rm -c f
need "exit status is not 0" rc_is 0
need "-c --rm removed the input (gzip/xz keep it with -c)" same f "$D/text"
need "stdout is not the archive" same "$T/out" "$D/text.hlz"
end

# ---- -t: integrity -------------------------------------------------------------------------------

begin test_good_archive
cp "$D/text.hlz" f.hlz
run "$HLZ" -T 2 -t f.hlz
need "exit status is not 0" rc_is 0
need "stdout is not empty" out_empty
need "stderr is not empty" err_empty
need "-t wrote a file" [ "$(ls -A)" = f.hlz ]
run "$HLZ" -T 2 -t -v f.hlz
need "-t -v: no 'hlz: f.hlz: OK'" err_has 'hlz: f.hlz: OK'
run "$HLZ" -T 2 -t <f.hlz
need "-t from stdin: exit status is not 0" rc_is 0
end

begin test_corrupt_archive
cp "$D/text.hlz" c.hlz
flip c.hlz $(($(size_of c.hlz) / 2))
run "$HLZ" -T 2 -t c.hlz
need "exit status is not 1" rc_is 1
need "no corrupt/checksum message naming c.hlz" err_has_re '^hlz: c\.hlz: .*(corrupt|checksum)'
need "stderr has lines without the 'hlz: ' prefix" err_prefixed
end

begin test_corrupt_stored_chunk
"$HLZ" -T 2 --codec store -c "$D/text" >c.hlz
flip c.hlz $(($(size_of c.hlz) / 2))
run "$HLZ" -T 2 -t c.hlz
need "exit status is not 1" rc_is 1
need "no corrupt/checksum message naming c.hlz" err_has_re '^hlz: c\.hlz: .*(corrupt|checksum)'
end

begin test_truncated_archive
size=$(size_of "$D/text.hlz")
for cut in 10 $((size / 2)) $((size - 20)); do
    head -c "$cut" "$D/text.hlz" >t.hlz
    run "$HLZ" -T 2 -t t.hlz
    need "cut at $cut bytes: exit status is not 1" rc_is 1
    need "cut at $cut bytes: no 'truncated' message naming t.hlz" err_has_re '^hlz: t\.hlz: .*truncated'
done
end

begin test_not_an_archive
cp "$D/small" f
run "$HLZ" -T 2 -t f
need "exit status is not 1" rc_is 1
need "no 'hlz: f: not an hlz archive' message" err_has_re '^hlz: f: not an hlz archive'
printf 'hi' >tiny
run "$HLZ" -T 2 -t tiny
need "2-byte file: exit status is not 1" rc_is 1
need "2-byte file: no 'not an hlz archive' message" err_has_re '^hlz: tiny: not an hlz archive'
end

begin decompress_corrupt_leaves_nothing
cp "$D/text.hlz" c.hlz
flip c.hlz $(($(size_of c.hlz) / 2))
run "$HLZ" -T 2 -d c.hlz
need "exit status is not 1" rc_is 1
need "no corrupt/checksum message naming c.hlz" err_has_re '^hlz: c\.hlz: .*(corrupt|checksum)'
need "an output c was left" absent c
need "a temporary file was left behind" no_temp
head -c $(($(size_of "$D/text.hlz") - 5)) "$D/text.hlz" >t.hlz
run "$HLZ" -T 2 -d t.hlz
need "truncated: exit status is not 1" rc_is 1
need "truncated: an output t was left" absent t
need "truncated: a temporary file was left behind" no_temp
cp "$D/small" n.hlz
run "$HLZ" -T 2 -d n.hlz
need "not an archive: exit status is not 1" rc_is 1
need "not an archive: an output n was left" absent n
need "not an archive: a temporary file was left behind" no_temp
end

# ---- -l: listing ---------------------------------------------------------------------------------

begin list_archive
cp "$D/text.hlz" f.hlz
run "$HLZ" -l f.hlz
need "exit status is not 0" rc_is 0
need "no header line 'f.hlz: format 1, chunk size 1048576'" out_has 'f.hlz: format 1, chunk size 1048576'
need "not exactly one cm chunk line (level 9, no model)" [ "$(chunk_lines | grep -c ' cm$')" -eq 1 ]
need "no total line with 'total: cm 1'" grep -qE '^ +all +102400 +[0-9]+ .*total: cm 1( |$)' "$T/out"
need "stderr is not empty" err_empty
run "$HLZ" -l <f.hlz
need "-l from stdin: exit status is not 0" rc_is 0
need "-l from stdin: no chunk line" [ "$(chunk_lines | wc -l)" -eq 1 ]
cp "$D/small" notarchive
run "$HLZ" -l notarchive
need "-l non-archive: exit status is not 1" rc_is 1
need "-l non-archive: no 'not an hlz archive' message" err_has_re '^hlz: notarchive: not an hlz archive'
end

begin list_verbose_reasons
run "$HLZ" -l -v "$D/text.hlz"
need "text: exit status is not 0" rc_is 0
need "text: no reason column header" grep -qE ' reason$' "$T/out"
need "text: chunk not listed as cm, 'not text for the model'" grep -qE '^ +0 .* cm .* not text for the model' "$T/out"
run "$HLZ" -l -v "$D/rand.hlz"
need "random: exit status is not 0" rc_is 0
need "random: chunk not listed as store, 'incompressible'" grep -qE '^ +0 .* store .* incompressible' "$T/out"
need "random: archive is not about the input's size" \
    [ "$(size_of "$D/rand.hlz")" -lt $(($(size_of "$D/rand") + 1024)) ]
need "random archive does not decode" decodes_to "$D/rand.hlz" "$D/rand"
end

# ---- --codec, --chunk-size --------------------------------------------------------------------------

begin codec_store
run "$HLZ" -T 2 --codec store -c "$D/text"
need "exit status is not 0" rc_is 0
cp "$T/out" s.hlz
in_size=$(size_of "$D/text")
s_size=$(size_of s.hlz)
need "store archive ($s_size bytes) is not slightly larger than the input ($in_size)" \
    [ "$s_size" -gt "$in_size" ] && [ "$s_size" -lt $((in_size + 1024)) ]
need "store archive does not decode" decodes_to s.hlz "$D/text"
run "$HLZ" -l -v s.hlz
need "-l -v: chunk not 'store' 'forced'" grep -qE '^ +0 .* store .* forced' "$T/out"
end

begin codec_zstd
run "$HLZ" -T 2 --codec zstd -c "$D/text"
need "--codec zstd: exit status is not 0" rc_is 0
cp "$T/out" z.hlz
need "zstd archive does not decode" decodes_to z.hlz "$D/text"
need "zstd archive is not smaller than the input" [ "$(size_of z.hlz)" -lt "$(size_of "$D/text")" ]
run "$HLZ" -T 2 --codec=zstd -c "$D/text"
need "--codec=zstd differs from --codec zstd" same "$T/out" z.hlz
run "$HLZ" -l -v z.hlz
need "-l -v: chunk not 'zstd' 'forced'" grep -qE '^ +0 .* zstd .* forced' "$T/out"
run "$HLZ" -T 2 --codec auto -c "$D/text"
need "--codec auto is not the default" same "$T/out" "$D/text.hlz"
end

begin codec_cm
run "$HLZ" -T 2 --codec cm --model none -c "$D/text"
need "--codec cm: exit status is not 0" rc_is 0
cp "$T/out" c.hlz
need "cm archive does not decode" decodes_to c.hlz "$D/text"
run "$HLZ" -T 2 --codec zstd --model none -c "$D/text"
need "cm archive is not smaller than zstd's" [ "$(size_of c.hlz)" -lt "$(size_of "$T/out")" ]
run "$HLZ" -l -v c.hlz
need "-l -v: chunk not 'cm' 'forced'" grep -qE '^ +0 .* cm .* forced' "$T/out"
need "-l -v: no total 'cm 1'" grep -qE 'total: cm 1( |$)' "$T/out"
# A binary table: auto codes it with cm from level 8 on, with zstd below.
awk 'BEGIN { for (i = 0; i < 12000; i++) printf "%c%c%c%c%c%c%c", i % 256, int(i / 256) % 256, 65 + i % 5, 0, 200 + i % 3, 1, 255 }' >tab
run "$HLZ" -T 2 --model none -c tab
need "auto -9: exit status is not 0" rc_is 0
cp "$T/out" tab.hlz
need "auto -9 archive does not decode" decodes_to tab.hlz tab
run "$HLZ" -l -v tab.hlz
need "auto -9: chunk not 'cm' 'not text for the model'" grep -qE '^ +0 .* cm .* not text for the model' "$T/out"
run "$HLZ" -T 2 -7 --model none -c tab
cp "$T/out" tab7.hlz
run "$HLZ" -l -v tab7.hlz
need "auto -7: chunk not 'zstd' 'compressible'" grep -qE '^ +0 .* zstd .* compressible' "$T/out"
end

begin codec_invalid
cp "$D/small" f
run "$HLZ" --codec bogus f
need "bogus: exit status is not 1" rc_is 1
need "bogus: no 'hlz: ' message naming the codec" err_has_re "^hlz: .*codec.*'bogus'"
need "bogus: an output was written" absent f.hlz
run "$HLZ" --codec llm f
need "llm (reserved): exit status is not 1" rc_is 1
need "llm: an output was written" absent f.hlz
run "$HLZ" f --codec
need "missing value: exit status is not 1" rc_is 1
need "missing value: no 'needs a value' message" err_has 'needs a value'
end

begin chunk_size_4K
cp "$D/text" f
run "$HLZ" -T 2 --chunk-size 4K f
need "exit status is not 0" rc_is 0
run "$HLZ" -l f.hlz
need "-l: exit status is not 0" rc_is 0
need "header does not say chunk size 4096" out_has 'f.hlz: format 1, chunk size 4096'
need "$(chunk_lines | wc -l) chunk lines, not 25" [ "$(chunk_lines | wc -l)" -eq 25 ]
need "the last chunk line is not chunk 24" [ "$(chunk_lines | tail -n 1 | awk '{print $1}')" = 24 ]
need "total line does not count 25 chunks" \
    eval "grep -E '^ +all +102400 .*total:' \"\$T/out\" | awk '{s = 0; for (i = 1; i < NF; i++) if (\$i == \"zstd\" || \$i == \"store\" || \$i == \"cm\") s += \$(i + 1); exit !(s == 25)}'"
need "4K-chunk archive does not decode" decodes_to f.hlz "$D/text"
for form in "--chunk-size=4K" "--chunk-size 4096" "--chunk-size=4KiB"; do
    # shellcheck disable=SC2086
    run "$HLZ" -T 2 $form -c f
    need "$form: differs from --chunk-size 4K" same "$T/out" f.hlz
done
end

begin chunk_size_invalid
cp "$D/small" f
for bad in 12 1023 128M 0 abc 4X -4K ""; do
    run "$HLZ" --chunk-size "$bad" f
    need "'$bad': exit status is not 1" rc_is 1
    need "'$bad': no 'invalid chunk size' message" err_has_re '^hlz: invalid chunk size'
    need "'$bad': an output was written" absent f.hlz
done
end

# ---- suffixes, missing files, directories ------------------------------------------------------------

begin skip_hlz_suffix
cp "$D/small.hlz" a.hlz
run "$HLZ" -T 2 a.hlz
need "exit status is not 1" rc_is 1
need "no 'already has the .hlz suffix' message naming a.hlz" err_has_re '^hlz: a\.hlz: .*already has the \.hlz suffix'
need "a.hlz.hlz was written" absent a.hlz.hlz
need "a.hlz was modified" same a.hlz "$D/small.hlz"
run "$HLZ" -T 2 -f a.hlz
need "-f: exit status is not 0" rc_is 0
need "-f: a.hlz.hlz does not decode to a.hlz" decodes_to a.hlz.hlz "$D/small.hlz"
end

begin decompress_needs_suffix
cp "$D/small.hlz" f.bin
run "$HLZ" -T 2 -d f.bin
need "exit status is not 1" rc_is 1
need "no 'unknown suffix' message naming f.bin" err_has_re '^hlz: f\.bin: .*suffix'
need "an output was written" [ "$(ls -A)" = f.bin ]
run "$HLZ" -T 2 -d -c f.bin
need "-c: exit status is not 0" rc_is 0
need "-c: output differs" same "$T/out" "$D/small"
run "$HLZ" -T 2 -d -o g f.bin
need "-o: exit status is not 0" rc_is 0
need "-o: output differs" same g "$D/small"
end

begin missing_file
run "$HLZ" -T 2 nosuch
need "exit status is not 1" rc_is 1
need "stderr is not exactly 'hlz: nosuch: No such file or directory'" \
    [ "$(cat "$T/err")" = "hlz: nosuch: No such file or directory" ]
run "$HLZ" -T 2 -d nosuch.hlz
need "-d: exit status is not 1" rc_is 1
need "-d: no 'No such file or directory' message" err_has 'hlz: nosuch.hlz: No such file or directory'
run "$HLZ" -t nosuch.hlz
need "-t: exit status is not 1" rc_is 1
run "$HLZ" -l nosuch.hlz
need "-l: exit status is not 1" rc_is 1
need "-l: no 'No such file or directory' message" err_has 'hlz: nosuch.hlz: No such file or directory'
end

begin directory_input
mkdir dir
run "$HLZ" -T 2 dir
need "exit status is not 1" rc_is 1
need "no 'hlz: dir: is a directory' message" err_has_re '^hlz: dir: is a directory'
need "dir.hlz was written" absent dir.hlz
run "$HLZ" -T 2 -d dir
need "-d: exit status is not 1" rc_is 1
need "-d: no 'is a directory' message" err_has_re '^hlz: dir: is a directory'
end

begin one_bad_among_several
cp "$D/text" a
cp "$D/small" b
run "$HLZ" -T 2 a nosuch b
need "exit status is not 1" rc_is 1
need "no message about nosuch" err_has 'hlz: nosuch: No such file or directory'
need "a was not compressed" decodes_to a.hlz "$D/text"
need "b (after the bad one) was not compressed" decodes_to b.hlz "$D/small"
rm a b
cp "$D/small" bad.hlz
run "$HLZ" -T 2 -d a.hlz bad.hlz b.hlz
need "-d: exit status is not 1" rc_is 1
need "-d: a was not restored" same a "$D/text"
need "-d: b was not restored" same b "$D/small"
need "-d: an output for bad.hlz was left" absent bad
need "a temporary file was left behind" no_temp
end

# ---- help, version, options -------------------------------------------------------------------------

begin help
for opt in -h --help; do
    run "$HLZ" $opt
    need "$opt: exit status is not 0" rc_is 0
    need "$opt: usage not on stdout" grep -q '^Usage: hlz' "$T/out"
    need "$opt: usage does not mention --rm" out_has '--rm'
    need "$opt: stderr is not empty" err_empty
done
end

begin version
for opt in -V --version; do
    run "$HLZ" $opt
    need "$opt: exit status is not 0" rc_is 0
    need "$opt: no 'hlz X.Y.Z' on stdout" grep -qE '^hlz [0-9]+\.[0-9]+\.[0-9]+' "$T/out"
    need "$opt: stderr is not empty" err_empty
done
end

begin unknown_option
for opt in -x --bogus --bogus=1 -dx; do
    run "$HLZ" $opt
    need "$opt: exit status is not 1" rc_is 1
    need "$opt: no 'hlz: unknown option' message" err_has_re '^hlz: unknown option'
    need "$opt: stdout is not empty" out_empty
done
end

begin flag_with_value_rejected
cp "$D/small" f
for opt in --keep=no --rm=yes --force=1; do
    run "$HLZ" -T 2 $opt f
    need "$opt: exit status is not 1" rc_is 1
    need "$opt: no message on stderr" err_has_re '^hlz: .*'"${opt%%=*}"
    # shellcheck disable=SC2016 # expanded by eval
    need "$opt: the file was processed anyway" eval 'absent f.hlz && same f "$D/small"'
done
end

begin option_missing_value
for opt in -o -T --output --threads --chunk-size; do
    run "$HLZ" $opt
    need "$opt: exit status is not 1" rc_is 1
    need "$opt: no 'needs a value' message" err_has_re "^hlz: option $opt needs a value"
done
end

begin verbose_stats
cp "$D/text" f
run "$HLZ" -T 2 -v f
need "exit status is not 0" rc_is 0
need "no 'hlz: f: 102400 -> N bytes' line" err_has_re "^hlz: f: 102400 -> $(size_of "$D/text.hlz") bytes"
run "$HLZ" -T 2 -v -q -f f
need "-v -q: stderr is not empty" err_empty
end

# ---- tar, write errors, signals ----------------------------------------------------------------------

begin tar_roundtrip
if ! tar --version 2>/dev/null | grep -q 'GNU tar'; then
    skip tar_roundtrip "GNU tar (for -I) is not installed"
    cd "$T" || exit 1
else
    mkdir -p tree/sub/deeper other
    cp "$D/text" tree/text
    cp "$D/rand" tree/sub/rand
    cp "$D/small" tree/sub/deeper/small
    : >tree/empty
    run tar -I "$HLZ" -cf x.tar.hlz tree
    need "tar -c: exit status is not 0" rc_is 0
    need "tar -c: stderr is not empty" err_empty
    run "$HLZ" -t x.tar.hlz
    need "x.tar.hlz is not a valid archive" rc_is 0
    run tar -I "$HLZ" -xf x.tar.hlz -C other
    need "tar -x: exit status is not 0" rc_is 0
    need "the extracted tree differs" diff -r tree other/tree
    run tar -I "$HLZ -T 2" -tf x.tar.hlz
    need "tar -t: sub/deeper/small not listed" out_has 'tree/sub/deeper/small'
    end
fi

begin write_error
if [ ! -w /dev/full ]; then
    skip write_error "/dev/full is not available"
    cd "$T" || exit 1
else
    run sh -c '"$1" -T 2 -c "$2" >/dev/full' sh "$HLZ" "$D/text"
    need "compress to a full device: exit status is not 1" rc_is 1
    need "compress to a full device: no write error message" err_has_re '^hlz: .*(write error|No space left)'
    run sh -c '"$1" -T 2 -dc "$2" >/dev/full' sh "$HLZ" "$D/text.hlz"
    need "decompress to a full device: exit status is not 1" rc_is 1
    need "decompress to a full device: no write error message" err_has_re '^hlz: .*(write error|No space left)'
    end
fi

begin signal_removes_temp
if ! mkfifo p 2>/dev/null; then
    skip signal_removes_temp "mkfifo failed"
    cd "$T" || exit 1
else
    # hlz creates its hidden temporary output, then blocks reading the fifo.
    "$HLZ" -T 2 -q -o s.hlz <p 2>"$T/err" &
    pid=$!
    exec 3>p
    tries=0
    while [ -z "$(find . -name '.s.hlz.??????' -print)" ] && [ $tries -lt 50 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    need "no hidden temporary .s.hlz.XXXXXX appeared while hlz ran" [ $tries -lt 50 ]
    kill -TERM "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
    rc=$?
    exec 3>&-
    need "hlz was not ended by SIGTERM (status $rc)" [ "$rc" -gt 128 ]
    need "the temporary file was left after SIGTERM" no_temp
    need "s.hlz was created" absent s.hlz
    end
fi

# ---- terminals ----------------------------------------------------------------------------------

begin permissions_and_mtime
cp "$D/text" f
chmod 600 f
touch -d '2001-02-03 04:05:06' f
run "$HLZ" -T 2 f
need "compress: exit status is not 0" rc_is 0
need "f.hlz has mode $(stat -c %a f.hlz), not 600" [ "$(stat -c %a f.hlz)" = 600 ]
need "f.hlz mtime differs from f's" [ "$(stat -c %Y f.hlz)" = "$(stat -c %Y f)" ]
rm f
run "$HLZ" -T 2 -d f.hlz
need "decompress: exit status is not 0" rc_is 0
need "restored f has mode $(stat -c %a f 2>/dev/null), not 600" [ "$(stat -c %a f)" = 600 ]
need "restored f mtime is not the original" [ "$(stat -c %Y f)" = "$(date -d '2001-02-03 04:05:06' +%s)" ]
cp "$D/small" g
chmod 640 g
run "$HLZ" -T 2 g
need "mode 640: f.hlz has mode $(stat -c %a g.hlz)" [ "$(stat -c %a g.hlz)" = 640 ]
end

have_script=false
if command -v script >/dev/null 2>&1 && script -qec true /dev/null </dev/null >/dev/null 2>&1; then
    have_script=true
fi

# in_tty FILE CMD: runs CMD (a sh command line) with a terminal as stdin,
# stdout and stderr; what it prints goes to FILE; sets rc.
in_tty() {
    script -qfec "$2" /dev/null </dev/null >"$1" 2>&1
    rc=$?
}

begin refuse_compressed_to_terminal
if ! $have_script; then
    skip refuse_compressed_to_terminal "util-linux script is not available"
    cd "$T" || exit 1
else
    cp "$D/small" f
    in_tty typescript "'$HLZ' -T 2 < f"
    need "exit status is not 1" rc_is 1
    need "no 'refusing to write compressed data to a terminal' message" \
        grep -q '^hlz: refusing to write compressed data to a terminal' typescript
    need "compressed bytes reached the terminal" [ "$(grep -c . typescript)" -eq 1 ]
    in_tty typescript "'$HLZ' -T 2 -d"
    need "-d from a terminal: exit status is not 1" rc_is 1
    need "-d from a terminal: no 'refusing to read' message" \
        grep -q '^hlz: refusing to read an archive from a terminal' typescript
    in_tty typescript "'$HLZ' -T 2 -dc '$D/small.hlz'"
    need "decompress to a terminal: exit status is not 0" rc_is 0
    need "decompress to a terminal: the text did not appear" grep -q "$(head -n 1 "$D/small" | cut -c 1-40)" typescript
    end
fi

begin progress_on_terminal
if ! $have_script; then
    skip progress_on_terminal "util-linux script is not available"
    cd "$T" || exit 1
else
    # The progress line is throttled to 4 updates a second: a pause in the
    # input makes the update after it certain.
    in_tty typescript "(head -c 1048576 '$D/big'; sleep 1; tail -c +1048577 '$D/big') | '$HLZ' -T 1 -1 --chunk-size 64K -o p.hlz"
    need "compress: exit status is not 0" rc_is 0
    need "compress: no progress line 'hlz: (stdin): ... MiB done' on the terminal" \
        grep -q 'hlz: (stdin): [0-9.]* MiB done, ratio' typescript
    need "compress: p.hlz does not decode" decodes_to p.hlz "$D/big"
    half=$(($(size_of p.hlz) / 2))
    in_tty typescript "(head -c $half p.hlz; sleep 1; tail -c +$((half + 1)) p.hlz) | '$HLZ' -T 1 -d -o out"
    need "decompress: exit status is not 0" rc_is 0
    need "decompress: no progress line on the terminal" grep -q 'hlz: (stdin): [0-9.]* MiB done' typescript
    need "decompress: output differs" same out "$D/big"
    end
fi

begin quiet_on_terminal
if ! $have_script; then
    skip quiet_on_terminal "util-linux script is not available"
    cd "$T" || exit 1
else
    in_tty typescript "(head -c 1048576 '$D/big'; sleep 1; tail -c +1048577 '$D/big') | '$HLZ' -q -T 1 -1 --chunk-size 64K -o q.hlz"
    need "exit status is not 0" rc_is 0
    need "-q printed on the terminal: $(head -c 200 typescript | od -c | head -n 3 | tr '\n' ' ')" [ ! -s typescript ]
    need "q.hlz does not decode" decodes_to q.hlz "$D/big"
    in_tty typescript "'$HLZ' -q -T 2 -dc '$D/small.hlz' >/dev/null"
    need "-q -dc: printed on the terminal" [ ! -s typescript ]
    end
fi

exit $failed
