#!/usr/bin/env bash
# Fuzz logsieve's parsers with cargo fuzz (libFuzzer), one target at a time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET defaults to every target in
# fuzz/Cargo.toml (zeek_tsv, csv, plugin_event, artifact_decode,
# scan_equivalence). Installs
# what it needs: the nightly toolchain (if rustup lacks it) and cargo-fuzz
# (`cargo install cargo-fuzz --locked`). Each target runs as one in-process
# libFuzzer job (no -fork, no -jobs workers), one target after the other,
# started from the committed seeds in
# fuzz/corpus/<target>/ (read only) plus what earlier runs found in
# fuzz/work/corpus/<target>/ (where new inputs go; not committed). Crashes,
# hangs and out-of-memory inputs are written to fuzz/artifacts/<target>/.
#
# Prints, per target, the seconds it ran, the executions and whether it
# found a crash; exits 1 if any target did (2 if a build or set-up failed).
#
# Sanitizers: artifact_decode is built with AddressSanitizer, whose
# allocator hooks let `-malloc_limit_mb` catch one oversized allocation (a
# length prefix trusted before its bytes are there). The other targets are
# safe Rust over safe dependencies and run without one, about five times
# faster (more executions in the same time); out-of-memory is still caught
# by `-rss_limit_mb`, panics and overflows (`-a`: debug assertions on) by
# libFuzzer. FUZZ_SANITIZER=address (or none) forces one for every target.
#
# Environment: CARGO_TARGET_DIR is honoured (default fuzz/target; builds go
# to <dir>/<sanitizer>); FUZZ_ARGS adds libFuzzer flags (e.g.
# FUZZ_ARGS="-max_len=65536").
set -uo pipefail

secs="${1:-60}"
shift || true
if ! [[ "$secs" =~ ^[0-9]+$ ]] || [ "$secs" -eq 0 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 2
fuzz_dir="$root/fuzz"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

# --- set-up -----------------------------------------------------------------
if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    echo "installing the $toolchain toolchain" >&2
    rustup toolchain install "$toolchain" --profile minimal || exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || exit 2
fi

all_targets=(zeek_tsv csv plugin_event artifact_decode scan_equivalence)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi
for t in "${targets[@]}"; do
    if [[ ! " ${all_targets[*]} " == *" $t "* ]]; then
        echo "unknown target '$t'; targets: ${all_targets[*]}" >&2
        exit 2
    fi
done

sanitizer() {
    if [ -n "${FUZZ_SANITIZER:-}" ]; then
        echo "$FUZZ_SANITIZER"
    elif [ "$1" = artifact_decode ]; then
        echo address
    else
        echo none
    fi
}
target_base="${CARGO_TARGET_DIR:-$fuzz_dir/target}"
triple=$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')

# Per-target libFuzzer limits. Every input is small (at most max_len bytes),
# so a single allocation of more than 256 MB is a bug (e.g. a length prefix
# trusted before the bytes are there), and so is an input taking > 10 s.
limits=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=256 -print_final_stats=1)

# --- the models plugin_event scores against ----------------------------------
# Trained from the pipeline examples' committed samples with the current
# logsieve, so they have the current artifact format (not committed).
models="$fuzz_dir/work/models"
if [[ " ${targets[*]} " == *" plugin_event "* ]]; then
    echo "training the models plugin_event scores against (into $models) ..." >&2
    mkdir -p "$models"
    cargo build --release --locked -p logsieve >&2 || exit 2
    bin_ls="${CARGO_TARGET_DIR:-$root/target}/release/logsieve"
    ex="$root/pipeline-examples"
    "$bin_ls" train --quiet --spec "$ex/flows-rating/model.toml" --input "$ex/flows-rating/sample/normal-7.binetflow.gz" \
        --out "$models/flows.model.msgpack" || exit 2
    "$bin_ls" train --quiet --spec "$ex/dce-rpc-kmodes/model.toml" --input "$ex/dce-rpc-kmodes/sample/apt29-*" \
        --out "$models/dce-rpc.model.msgpack" || exit 2
    "$bin_ls" train --quiet --spec "$ex/kerberos-per-host/kerberos-hosts.toml" \
        --input "$ex/kerberos-per-host/sample/*kerberos*" --out "$models/kerberos-hosts.model.msgpack" || exit 2
fi
export LOGSIEVE_FUZZ_MODELS="$models"

# --- build once (not counted in the run time) --------------------------------
# -a: debug assertions and overflow checks on, so arithmetic overflow panics.
echo "building ${targets[*]} ..." >&2
for t in "${targets[@]}"; do
    san=$(sanitizer "$t")
    cargo "+$toolchain" fuzz build -a -s "$san" --target-dir "$target_base/$san" --fuzz-dir "$fuzz_dir" "$t" >&2 || exit 2
done

# --- run ---------------------------------------------------------------------
logs="$fuzz_dir/work/logs"
mkdir -p "$logs"
results=()
crashed=0
for t in "${targets[@]}"; do
    work="$fuzz_dir/work/corpus/$t"
    seeds="$fuzz_dir/corpus/$t"
    mkdir -p "$work" "$seeds" "$fuzz_dir/artifacts/$t"
    dict=()
    [ -f "$fuzz_dir/dicts/$t.dict" ] && dict=("-dict=$fuzz_dir/dicts/$t.dict")
    log="$logs/$t.log"
    echo "fuzzing $t for ${secs}s, sanitizer $(sanitizer "$t") (log: $log)" >&2
    # The binary `cargo fuzz build` made, run directly (what `cargo fuzz run
    # --jobs 1` runs: one in-process libFuzzer, no -fork/-jobs workers), so
    # the time measured is fuzzing only.
    bin="$target_base/$(sanitizer "$t")/$triple/release/$t"
    start=$(date +%s.%N)
    "$bin" -artifact_prefix="$fuzz_dir/artifacts/$t/" -max_total_time="$secs" "${limits[@]}" "${dict[@]}" \
        ${FUZZ_ARGS:-} "$work" "$seeds" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    ran=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    [ -z "$execs" ] && execs=$(grep -oE 'Done [0-9]+ runs' "$log" | tail -1 | awk '{print $2}')
    [ -z "$execs" ] && execs="?"
    if [ "$rc" -eq 0 ]; then
        found="no crash"
    else
        crashed=1
        artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
        kind=$(grep -oE 'ERROR: libFuzzer: [a-z-]+|panicked at [^:]+:[0-9]+' "$log" | head -1)
        found="CRASH (exit $rc${kind:+; $kind}${artifact:+; input: $artifact})"
    fi
    results+=("$(printf '%-16s %8ss %12s execs  %s' "$t" "$ran" "$execs" "$found")")
done

echo
printf '%-16s %9s %12s        %s\n' target ran executions result
for r in "${results[@]}"; do
    echo "$r"
done
exit "$crashed"
