#!/usr/bin/env bash
# Builds device-bundle/: everything the one-shot device check needs on a Linux x86-64 machine
# that has no Swift, no network and maybe no OpenCL ICD loader (scripts/device-check.sh runs it).
#
#   scripts/device-bundle.sh            # release build (two builds: products, then the test runner)
#   scripts/device-bundle.sh --debug    # reuse the debug build of `swift test` (CI: seconds, not minutes)
#   scripts/device-bundle.sh --out DIR  # another folder (default: device-bundle/, git-ignored)
#
# The folder holds device-check.sh, device-report.py, the PyTorch twin, a README and
# payload.tar.xz (stripped; xz -9, or -1 with --debug): bin/ (recurrent, recurrent-bench, the test runner with the
# fixtures as its resource bundle, CLBlast's GEMM tuners), lib/ (one copy of the Swift runtime, Foundation, XCTest and
# swift-testing that all three binaries share; OpenBLAS and its Fortran runtime, CLBlast, the
# OpenCL ICD loader; libstdc++ under lib/fallback, used only where the machine's is older),
# icd/nvidia.icd naming libnvidia-opencl.so.1. manifest.json records the commit and the sizes.
#
# Why one shared runtime rather than --static-swift-stdlib: this toolchain has no static
# swift-testing (`no such module 'Testing'` with --static-swift-stdlib --build-tests), so the test
# runner needs the shared runtime in any case; static copies in recurrent and recurrent-bench would
# carry Foundation and ICU's data twice more on top (see the README for the measured sizes).
set -euo pipefail
cd "$(dirname "$0")/.."

configuration=release
out=device-bundle
xz_level=-9   # size matters for the release bundle; --debug (CI) packs fast instead
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) configuration=debug; xz_level=-1 ;;
        --out) out="$2"; shift ;;
        -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
        *) echo "device-bundle: unknown argument '$1' (expected --debug, --out DIR)" >&2; exit 2 ;;
    esac
    shift
done

for tool in swift strip xz tar ldd; do
    command -v "$tool" >/dev/null || { echo "device-bundle: '$tool' is needed to build the bundle" >&2; exit 1; }
done

start=$SECONDS
# Products from a plain build (no -enable-testing: the bench times what users get); the runner
# from a build with the tests, each in a build folder of its own (.build-device, .build-device-tests)
# so that neither waits on nor rebuilds the everyday .build. In debug, `swift test`'s build serves.
if [ "$configuration" = release ]; then
    products_path=.build-device
    tests_path=.build-device-tests
    echo "device-bundle: swift build -c release (recurrent, recurrent-bench)"
    swift build -c release --build-path "$products_path" --product recurrent
    swift build -c release --build-path "$products_path" --product recurrent-bench
    echo "device-bundle: swift build -c release --build-tests (test runner)"
    swift build -c release --build-path "$tests_path" --build-tests -Xswiftc -enable-testing   # @testable imports
else
    products_path=.build
    tests_path=.build
    swift build --build-tests
fi
products_bin=$(swift build -c "$configuration" --build-path "$products_path" --show-bin-path)
tests_bin=$(swift build -c "$configuration" --build-path "$tests_path" --show-bin-path)
build_seconds=$((SECONDS - start))

staging=$(mktemp -d "${TMPDIR:-/tmp}/device-bundle.XXXXXX")
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin" "$staging/lib/fallback" "$staging/icd"
cp "$products_bin/recurrent" "$products_bin/recurrent-bench" "$staging/bin/"
cp "$tests_bin/RecurrentKitPackageTests.xctest" "$staging/bin/"
# CLBlast's GEMM tuners (clblast-utils), for device-check.sh --tune.
for tuner in clblast_tuner_xgemm clblast_tuner_xgemm_direct; do
    if command -v "$tuner" >/dev/null; then cp "$(command -v "$tuner")" "$staging/bin/"
    else echo "device-bundle: $tuner not found (apt-get install clblast-utils): the bundle cannot --tune" >&2; fi
done
for resources in "$tests_bin"/*.resources; do
    [ -e "$resources" ] && cp -R "$resources" "$staging/bin/"
done

# Shared libraries: everything ldd resolves outside glibc (which the machine has) and the
# dynamic loader. libstdc++ and libgcc_s go to lib/fallback: the machine's own, if new enough,
# must win, since NVIDIA's driver libraries load into the same process.
copy_library() {   # PATH [DIR]
    local source=$1 dir=${2:-$staging/lib} name
    name=$(basename "$source")
    [ -e "$dir/$name" ] || cp -L "$source" "$dir/$name"
}
for binary in "$staging"/bin/*; do
    [ -f "$binary" ] || continue
    while read -r name _ path _; do
        case "$name" in
            linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*) continue ;;
            libstdc++.so*|libgcc_s.so*) copy_library "$path" "$staging/lib/fallback" ;;
            *)
                if [ "$path" = "not" ] || [ -z "$path" ]; then
                    echo "device-bundle: $binary needs $name, which ldd cannot find" >&2; exit 1
                fi
                copy_library "$path" ;;
        esac
    done < <(ldd "$binary" | grep "=>")
done
# swift-testing loads its interop library by name when present.
swift_lib=$(dirname "$(readlink -f "$(command -v swift)")")/../lib/swift/linux
for extra in lib_TestingInterop.so; do
    [ -e "$swift_lib/$extra" ] && copy_library "$swift_lib/$extra"
done
# Everything the copied libraries need in turn, from the same rules.
for library in "$staging"/lib/*.so*; do
    while read -r name _ path _; do
        case "$name" in
            linux-vdso*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libutil.so*) continue ;;
            libstdc++.so*|libgcc_s.so*) copy_library "$path" "$staging/lib/fallback" ;;
            *) [ -e "$path" ] && copy_library "$path" ;;
        esac
    done < <(ldd "$library" 2>/dev/null | grep "=>")
done
for required in libopenblas.so.0 libgfortran.so.5 libclblast.so.1 libOpenCL.so.1; do
    [ -e "$staging/lib/$required" ] || { echo "device-bundle: $required is missing from the bundle" >&2; exit 1; }
done
printf 'libnvidia-opencl.so.1\n' > "$staging/icd/nvidia.icd"

unstripped=$(du -sb "$staging" | cut -f1)
find "$staging/bin" -maxdepth 1 -type f -exec strip --strip-all {} +
find "$staging/lib" -type f -name '*.so*' -exec strip --strip-unneeded {} +
stripped=$(du -sb "$staging" | cut -f1)

rm -rf "$out"
mkdir -p "$out"
XZ_OPT="$xz_level -T2" tar -C "$staging" -cJf "$out/payload.tar.xz" bin lib icd
cp scripts/device-check.sh scripts/device-report.py Benchmarks/pytorch_twin.py "$out/"
cat > "$out/README.txt" <<'EOF'
RecurrentKit device check. On the GPU machine, from this folder:

    ./device-check.sh --probe opencl OUT     # first: nvidia-smi, where libnvidia-opencl.so* is, the devices
    ./device-check.sh opencl OUT             # the whole check (under 8 minutes), logs and JSON in OUT

DEVICE is a RECURRENT_DEVICE name: opencl (the first device), opencl:P:D, or cpu.
Needs: Linux x86-64, glibc 2.34 or later, python3 (with PyTorch for the twin); no Swift, no network.
EOF

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -qv '^??' && echo true || echo false)
payload=$(stat -c %s "$out/payload.tar.xz")
total=$(du -sb "$out" | cut -f1)
python3 - "$out/manifest.json" <<EOF
import json, sys
json.dump({"commit": "$commit", "uncommitted_changes": $( [ "$dirty" = true ] && echo True || echo False ),
           "configuration": "$configuration", "build_seconds": $build_seconds,
           "unstripped_bytes": $unstripped, "stripped_bytes": $stripped,
           "payload_xz_bytes": $payload, "folder_bytes": $total},
          open(sys.argv[1], "w"), indent=1)
EOF
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "device-bundle: $out ($configuration, commit ${commit:0:12}): unstripped $(mib "$unstripped"), stripped $(mib "$stripped"), payload.tar.xz $(mib "$payload"), folder $(mib "$total"); $((SECONDS - start)) s"
limit=$((60 * 1048576))
if [ "$configuration" = release ] && [ "$total" -ge "$limit" ]; then
    echo "device-bundle: the folder is $(mib "$total"), over the 60 MiB it must stay under" >&2
    exit 1
fi
