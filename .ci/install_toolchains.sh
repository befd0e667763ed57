#!/usr/bin/env bash
# Install the cross compilers, qemu-user and cppcheck that the policy-export tests use
# (tests/test_export.py, agents/export/toolchains.py).
#
#   bash .ci/install_toolchains.sh
#
# Debian/Ubuntu only (apt-get). Idempotent: packages already installed are not touched, and when
# nothing is missing the script returns at once without calling apt-get. Uses sudo only when not
# running as root. Quiet unless something fails.
set -euo pipefail

# Package -> why it is needed.
packages=(
    gcc                              # host build of the C policy and its test harness
    gcc-arm-linux-gnueabihf          # armhf Linux (Cortex-A, hard float), run under qemu-arm-static
    libc6-dev-armhf-cross            #   its C library (only recommended by the compiler package)
    gcc-aarch64-linux-gnu            # aarch64 Linux, run under qemu-aarch64-static
    libc6-dev-arm64-cross
    gcc-powerpc-linux-gnu            # PowerPC 750 (RAD750 core), -mcpu=750, run under qemu-ppc-static
    libc6-dev-powerpc-cross
    gcc-sparc64-linux-gnu            # SPARC V8 LEON3 (GR712RC core) with -m32 -mcpu=leon3 ...
    gcc-multilib-sparc64-linux-gnu   # ... which needs the 32-bit multilib and sparc 32-bit libc
    libc6-dev-sparc-sparc64-cross
    gcc-arm-none-eabi                # bare-metal Cortex-M4F / M7 / R5F / M3 size builds
    libnewlib-arm-none-eabi          # newlib headers (stdint.h, math.h) for the bare-metal builds
    binutils-arm-none-eabi           # arm-none-eabi-size, -nm
    qemu-user-static                 # qemu-arm/aarch64/ppc/sparc32plus-static
    cppcheck                         # static analysis with the MISRA add-on ...
    python3                          # ... which is a Python script
)

missing=()
for pkg in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_toolchains.sh: apt-get not found; install by hand: ${missing[*]}" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "install_toolchains.sh: not root and no sudo; install by hand: ${missing[*]}" >&2
    exit 1
fi

echo "install_toolchains.sh: installing ${missing[*]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
       && ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
              "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install_toolchains.sh: apt-get failed" >&2
    exit 1
fi
