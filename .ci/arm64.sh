#!/usr/bin/env bash
# The device on arm64: a Debian 12 arm64 root (Python 3.11, as Raspberry Pi OS 12) run under
# qemu-user, with the device installed there from this clone. It runs README command 1, the tests
# marked arm64 and the cross-platform check of embeddings (bench/platforms.py) against this
# machine's. Emulation says nothing about speed.
#
#   .ci/arm64.sh REFERENCE.npz   # REFERENCE: `python -m bench.platforms embed` on this machine
#
# The root is cached under ~/.cache/siamface (or $XDG_CACHE_HOME) and rebuilt when missing.
# Needs root, binfmt_misc and Debian's archive; where the machine cannot, it says so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
reference=$(realpath "${1:?usage: .ci/arm64.sh REFERENCE.npz}")
data=$(realpath -m "${SIAMFACE_DATA:-$repo/../shared/data}")
cache=${XDG_CACHE_HOME:-$HOME/.cache}/siamface
root=$cache/arm64-bookworm
mirror=${ARM64_MIRROR:-http://deb.debian.org/debian}

say() { echo "arm64: $*"; }
cannot() {
  say "not run on this machine: $*"
  exit 0
}

[ "$(uname -m)" = x86_64 ] || cannot "it emulates arm64 on x86-64 and this is $(uname -m)"
[ "$(id -u)" = 0 ] || cannot "it needs root (debootstrap, chroot, mounts)"
if ! command -v debootstrap >/dev/null || ! [ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ]; then
  { apt-get update -qq && apt-get install -y -qq qemu-user-static binfmt-support debootstrap; } >/dev/null ||
    cannot "apt-get could not install qemu-user-static, binfmt-support and debootstrap"
fi
if ! [ -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
    cannot "binfmt_misc cannot be mounted (a container without that privilege?)"
fi
update-binfmts --enable qemu-aarch64 2>/dev/null || true
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null ||
  cannot "qemu-aarch64 is not registered with binfmt_misc"

if ! [ -e "$root/.complete" ]; then
  say "building the arm64 root in $root (about 6 minutes, once per machine)"
  rm -rf "$root.partial"
  mkdir -p "$cache"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$root.partial" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || {
    tail -5 "$cache/debootstrap.log"
    say "debootstrap failed (log: $cache/debootstrap.log)"
    exit 1
  }
  # Machines behind a TLS-inspecting proxy add their CA here; pip inside the root needs it too.
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    cp -r /usr/local/share/ca-certificates/. "$root.partial/usr/local/share/ca-certificates/"
    chroot "$root.partial" update-ca-certificates >/dev/null
  fi
  cp /etc/resolv.conf "$root.partial/etc/resolv.conf"
  touch "$root.partial/.complete"
  mv "$root.partial" "$root"
fi

mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT
bind() { # bind SOURCE TARGET [ro]
  if [ -d "$1" ]; then mkdir -p "$2"; else [ -e "$2" ] || touch "$2"; fi
  mount --bind "$1" "$2"
  mounts+=("$2")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
}
mount -t proc proc "$root/proc" && mounts+=("$root/proc")
mount -t sysfs sys "$root/sys" && mounts+=("$root/sys")
bind /dev "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d "$data" ]; then
  bind "$data" "$root/data" ro
else
  say "no face data at $data: the tests that need it skip"
fi
bind "$(dirname "$reference")" "$root/reference" ro

# A copy of the clone (no venvs, no git), so that building the package writes nothing into it.
rm -rf "$root/src" && mkdir -p "$root/src"
tar -C "$repo" --exclude='./.venv*' --exclude=./.git --exclude='*.egg-info' --exclude=./build \
  -cf - . | tar -C "$root/src" -xf -

# qemu 7.2 passes the host's x86 /proc/cpuinfo through, and onnxruntime's CPU probe crashes on it:
# the guest sees the cpuinfo of the Raspberry Pi whose CPU QEMU_CPU emulates (the default, max, has
# SVE, which no Pi has and which qemu runs slowly).
inroot() { # inroot CPU COMMANDS: bash commands in the root's copy of the clone, on that CPU
  local cpu=$1 status=0
  mount --bind "$repo/.ci/cpuinfo-$cpu" "$root/proc/cpuinfo"
  QEMU_CPU=$cpu chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin SIAMFACE_DATA=/data \
    QEMU_CPU="$cpu" /bin/bash -euo pipefail -c "cd /src; $2" || status=$?
  umount "$root/proc/cpuinfo"
  return $status
}

start=$SECONDS
inroot cortex-a72 "
  echo \"arm64: \$(uname -m), \$(python3 --version), \$(grep -m1 'CPU part' /proc/cpuinfo)\"
  rm -rf /tmp/venv && python3 -m venv /tmp/venv
  /tmp/venv/bin/pip install --quiet --upgrade pip
  /tmp/venv/bin/pip install --quiet '.[dev]'
  # README command 1, as a user runs it.
  /tmp/venv/bin/face-edge enroll --quiet
  /tmp/venv/bin/face-edge run --max-frames 4 | tee /tmp/events.jsonl
  grep -q '\"name\":\"eileen_collins\"' /tmp/events.jsonl
  /tmp/venv/bin/python -m pytest -q -p no:cacheprovider -m arm64
  /tmp/venv/bin/python -m bench.platforms compare /reference/$(basename "$reference")
"
# A Raspberry Pi 5's CPU has the int8 dot-product instructions, which onnxruntime then uses.
inroot cortex-a76 "/tmp/venv/bin/python -m bench.platforms compare /reference/$(basename "$reference")"
say "passed in $((SECONDS - start)) s: install, README command 1, the tests marked arm64 (Cortex-A72), embeddings against x86 (A72, A76)"
