#!/usr/bin/env bash
# Two igos binaries must say the same thing: `igos check` (JSON, SARIF and the human report) byte
# for byte, and the same exit code, on the conformance corpus, the embedded tree and a
# generated tree. Used around refactorings that must not change behaviour.
#   benches/same_output.sh OLD_IGOS NEW_IGOS [GENERATED_TREE_DIR]
# The generated tree is written by `cargo bench --bench gen_tree -- DIR 10000`.
set -uo pipefail
old="$1" new="$2" gen="${3:-}"
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$here/../shared/corpus/intergenos-91d65db0"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
compare() { # name, then igos check arguments
    local name="$1"; shift
    "$old" check "$@" >"$out/old" 2>"$out/old.err"; local a=$?
    "$new" check "$@" >"$out/new" 2>"$out/new.err"; local b=$?
    if [ "$a" != "$b" ]; then
        echo "DIFFER $name: exit $a vs $b"; status=1
    elif ! cmp -s "$out/old" "$out/new"; then
        echo "DIFFER $name: stdout ($(wc -c <"$out/old") vs $(wc -c <"$out/new") bytes)"
        diff "$out/old" "$out/new" | head -20; status=1
    elif ! cmp -s "$out/old.err" "$out/new.err"; then
        echo "DIFFER $name: stderr"; diff "$out/old.err" "$out/new.err" | head -20; status=1
    else
        echo "same   $name: exit $a, $(wc -c <"$out/old") bytes, sha256 $(sha256sum <"$out/old" | cut -c1-16)"
    fi
}
for fmt in json sarif; do
    [ -d "$corpus" ] && compare "corpus $fmt" --root "$corpus" --format "$fmt"
    compare "embedded $fmt" --root "$here" --format "$fmt"
    [ -n "$gen" ] && compare "generated $fmt" --root "$gen" --rules "$gen/rules" --format "$fmt"
done
# The human report too (uncoloured): it renders every diagnostic.
[ -d "$corpus" ] && compare "corpus human" --root "$corpus" --color never
compare "embedded human" --root "$here" --color never
[ -n "$gen" ] && compare "generated human" --root "$gen" --rules "$gen/rules" --color never
exit $status
