#!/usr/bin/env bash
# Builds and runs the libFuzzer targets in Fuzz/ (see Fuzz/README.md), each for a bounded time.
#   tools/fuzz.sh                  every target, 60 s each
#   tools/fuzz.sh 300 capture      one target, 5 minutes
# Exits non-zero when a target finds a crash, a memory error, a hang or runaway memory; the input that did it is in
# .build-fuzz/artifacts/TARGET/ (reproduce with: .build-fuzz/fuzzers/TARGET FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(capture moldudp64 config frames requests journal http)

tools/setup.sh >&2
scratch=.build-fuzz
# Coverage and AddressSanitizer in every Swift module of the package (the C shims stay uninstrumented).
swift build -c release --scratch-path "$scratch" --target DSITools -Xswiftc -sanitize=fuzzer,address >&2
release=$scratch/release
triple=$(readlink -f "$release")

# One archive of every library object the targets may need: DSI's modules and their package dependencies.
objects=$scratch/fuzz-objects
rm -rf "$objects" && mkdir -p "$objects"
for dir in "$triple"/*.build; do
    name=$(basename "$dir" .build)
    case "$name" in *Tests | DSITestSupport | dsi | *-tool | *Example | DSIPackage*) continue ;; esac
    while IFS= read -r -d '' object; do
        # An object of this package whose source was renamed or removed is left behind by SwiftPM: skip it.
        if [[ -d "Sources/$name" && "$object" == *.swift.o ]]; then
            source=$(basename "$object" .o)
            [[ -n "$(find "Sources/$name" -name "$source" -print -quit)" ]] || continue
        fi
        cp --backup=numbered "$object" "$objects/"
    done < <(find "$dir" -name '*.o' -print0)
done
rm -f "$scratch/libfuzzdeps.a"
find "$objects" -type f -print0 | xargs -0 ar rcs "$scratch/libfuzzdeps.a"

# The C modules' maps and headers, as SwiftPM passes them.
flags=(-I "$release/Modules")
while IFS= read -r map; do flags+=(-Xcc "-fmodule-map-file=$map"); done < <(
    find "$triple" -maxdepth 2 -name module.modulemap
    find "$scratch/checkouts" -path '*/Sources/*/include/module.modulemap'
    ls Sources/C*/module.modulemap)
while IFS= read -r dir; do flags+=(-Xcc "-I$dir"); done < <(find "$scratch/checkouts" -path '*/Sources/*/include' -type d; echo Sources/CDSIShims/include)
# Foundation, Dispatch and Synchronization: the modules use them, the fuzz entry files do not import them, so nothing
# autolinks them.
libraries=(-lnuma -lpcap -lssl -lcrypto -luv -lnats -lstdc++ -lFoundation -lFoundationEssentials -lFoundationInternationalization
    -l_FoundationICU -lswiftDispatch -ldispatch -lswiftSynchronization)

mkdir -p "$scratch/fuzzers"
failed=()
for target in "${targets[@]}"; do
    echo "fuzz: building $target" >&2
    swiftc -O -sanitize=fuzzer,address -parse-as-library "Fuzz/$target.swift" "${flags[@]}" \
        -L "$scratch" -Xlinker --whole-archive -lfuzzdeps -Xlinker --no-whole-archive "${libraries[@]}" \
        -o "$scratch/fuzzers/$target" 2>&1 | grep -v "Cannot export local symbol" >&2 || true
    [[ -x "$scratch/fuzzers/$target" ]] || { echo "fuzz: $target did not build" >&2; exit 1; }
    corpus=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    cp -n Fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: running $target for $seconds s" >&2
    # The Swift backtracer would hang under ASan instead of exiting (../shared/reference/fuzzing.md).
    if ! SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$scratch/fuzzers/$target" "$corpus" -max_total_time="$seconds" -timeout=10 -detect_leaks=0 \
        -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1 2> "$scratch/$target.log"; then
        tail -40 "$scratch/$target.log" >&2
        failed+=("$target")
    else
        grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$scratch/$target.log" | sed "s/^/fuzz: $target: /" >&2
    fi
done
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $scratch/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${targets[*]}: no crash in $seconds s each" >&2
