#!/usr/bin/env bash
# Builds DSI for a bigger machine that has no Swift toolchain: one directory holding the `dsi` binary (release,
# Swift's runtime and Foundation linked in with --static-swift-stdlib) and, in lib/, the C libraries it loads that
# a fresh Linux may lack (OpenSSL 3, libuv, libnuma, libpcap and what libpcap pulls in), found through an $ORIGIN/lib
# rpath; glibc, libstdc++ and libgcc come from the target system. With it: the latency lab's scripts and plotters.
#
#   tools/build-static.sh [OUT]        (default: dist/dsi-linux-x86_64)
#
# Then on the other machine: OUT/dsi --help; OUT/latency-lab.sh RESULTS_DIR (see docs/latency-lab.md).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist/dsi-linux-x86_64}
tools/setup.sh >&2
# patchelf gives the bundled libraries an $ORIGIN rpath of their own (a binary's rpath does not reach its libraries'
# libraries).
if ! command -v patchelf >/dev/null; then
    sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq patchelf >/dev/null
fi
scratch=.build-static
# The rpath is written as the literal $ORIGIN for the loader, hence the single quotes.
swift build -c release --product dsi --scratch-path "$scratch" --static-swift-stdlib \
    -Xlinker -rpath -Xlinker '$ORIGIN/lib' >&2
rm -rf "$out" && mkdir -p "$out/lib" "$out/tools"
cp "$scratch/release/dsi" "$out/dsi"
# The binary's C libraries and theirs, except what every glibc system has (libc, libm, the loader, libstdc++,
# libgcc_s): a system's own copies of those are the ones that match its kernel and loader.
system='^(linux-vdso|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|ld-linux|libstdc\+\+|libgcc_s)'
ldd "$out/dsi" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
    if [[ "$name" =~ $system ]]; then continue; fi
    if [[ "$path" == /opt/swift/* || "$path" == *swift* ]]; then
        echo "build-static: $name still comes from the toolchain ($path): not static" >&2
        exit 1
    fi
    cp -L "$path" "$out/lib/$name"
    patchelf --set-rpath '$ORIGIN' "$out/lib/$name"
done
# Every library the binary loads is now the bundled one or a system one from the list above.
if ldd "$out/dsi" | awk '$3 ~ /^\// {print $1, $3}' | grep -Ev "$system" | grep -v " $(cd "$out" && pwd)/lib/"; then
    echo "build-static: the libraries above do not come from $out/lib" >&2
    exit 1
fi
cp tools/plot_latency.py tools/plot_sweep.py tools/plotting.py "$out/tools/" && cp -r tools/lab "$out/tools/lab"
cp tools/latency-lab.sh "$out/latency-lab.sh"
du -sh "$out" >&2
echo "$out"
