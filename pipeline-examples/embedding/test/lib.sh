# The embedding hosts' test runner, sourced by node/test.sh and
# python/test.sh. They define `host_cmd COMPONENT` (prints nothing; sets the
# array CMD: the command that scores with that component, to which the
# model, input, output and options are appended) and call `run_cases HOST`.
#
# Each case of $W/cases.tsv the host takes: run it on the case's input (in
# the case's format), compare its scored NDJSON (byte for byte), its error
# records and its counts (anomalies among them: --summary-json) with what
# `logsieve run` wrote; each refused model of $W/model-errors.tsv: the host
# must exit 2 and say why in the CLI's words. Ends with "N passed, M failed"
# and returns non-zero if any failed.

embedding_work() {
    local here repo
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    repo=$(cd "$here/../../.." && pwd)
    W=${EMBEDDING_WORK:-$repo/target/embedding}
    TESTS=$here
    # Prepared already by scripts/test-embedding.sh, or here.
    if [ "${EMBEDDING_PREPARED:-}" != 1 ]; then
        "$here/prepare.sh"
    fi
    for f in cases.tsv model-errors.tsv logsieve.wasm; do
        [ -f "$W/$f" ] || { echo "test: $W/$f is missing: run pipeline-examples/embedding/test/prepare.sh" >&2; return 1; }
    done
    export LOGSIEVE_CACHE_DIR="$W/cache"
}

run_cases() {
    local host=$1 passed=0 failed=0 name component model input batch hosts expected min_scored min_errors extra format
    local o status t0 t1
    rm -f "$W/result-$host"
    while IFS=$'\t' read -r name component model input batch hosts expected min_scored min_errors extra format; do
        case ",$hosts," in *",$host,"*) ;; *)
            echo "test: $host $name: not run (the case is for $hosts only: see the README)"
            continue ;;
        esac
        o=$W/out/$name
        host_cmd "$component" || { failed=$((failed + 1)); continue; }
        local more=()
        [ "$extra" = - ] || IFS=, read -r -a more <<< "$extra"
        t0=$(date +%s%N)
        status=0
        "${CMD[@]}" --model "$W/$model" --input "$W/$input" --format "$format" --batch-size "$batch" --top-features 3 \
            "${more[@]}" --out "$o/$host.scored.ndjson" --errors "$o/$host.errors.ndjson" \
            --summary-json "$o/$host.summary.json" 2> "$o/$host.stderr" || status=$?
        t1=$(date +%s%N)
        if [ "$status" != 0 ]; then
            echo "test: FAIL $host $name: the host exited with status $status:" >&2
            sed 's/^/    /' "$o/$host.stderr" | tail -n 20 >&2
            failed=$((failed + 1))
            continue
        fi
        local exp=()
        [ "$expected" = - ] || exp=(--expected "$W/$expected")
        if python3 "$TESTS/compare.py" outputs --label "$host $name" \
            --cli-scored "$o/cli.scored.ndjson" --cli-errors "$o/cli.errors.ndjson" \
            --host-scored "$o/$host.scored.ndjson" --host-errors "$o/$host.errors.ndjson" \
            --cli-summary "$o/cli.summary.json" --host-summary "$o/$host.summary.json" \
            --min-scored "$min_scored" --min-errors "$min_errors" "${exp[@]}"; then
            passed=$((passed + 1))
            printf '    (%d ms; %s)\n' "$(( (t1 - t0) / 1000000 ))" "$(tail -n 1 "$o/$host.stderr")"
        else
            failed=$((failed + 1))
        fi
    done < "$W/cases.tsv"

    while IFS=$'\t' read -r name model; do
        o=$W/out/$name
        host_cmd logsieve.wasm || { failed=$((failed + 1)); continue; }
        status=0
        "${CMD[@]}" --model "$W/$model" --input "$W/conn-sample.ndjson" \
            --out "$o/$host.scored.ndjson" --errors "$o/$host.errors.ndjson" 2> "$o/$host.stderr" || status=$?
        if python3 "$TESTS/compare.py" model-error --label "$host $name" \
            --cli-stderr "$o/cli.stderr" --cli-status "$(cat "$o/cli.status")" \
            --host-stderr "$o/$host.stderr" --host-status "$status"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done < "$W/model-errors.tsv"

    echo "$passed $failed" > "$W/result-$host"
    echo "$host: $passed passed, $failed failed"
    [ "$failed" = 0 ] && [ "$passed" -gt 0 ]
}
