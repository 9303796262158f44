#!/usr/bin/env bash
# Installs siamface as a systemd service (Raspberry Pi OS, or any Debian-like system with systemd).
# Run as root from a checkout:  sudo systemd/install.sh      (PREFIX=/opt/siamface by default)
# It creates the system user 'siamface' in the 'video' group, a venv that can see apt's
# python3-picamera2, /etc/siamface/config.yaml (kept if it exists) and /var/lib/siamface.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/opt/siamface}

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (sudo systemd/install.sh)" >&2; exit 1; }
if command -v apt-get >/dev/null && [ -e /etc/rpi-issue ] && ! dpkg -s python3-picamera2 >/dev/null 2>&1; then
  apt-get install -y python3-picamera2   # the Pi camera's library comes from Raspberry Pi OS, not pip
fi

id -u siamface >/dev/null 2>&1 ||
  useradd --system --home-dir /var/lib/siamface --no-create-home --shell /usr/sbin/nologin siamface
usermod -aG video siamface

# --system-site-packages: picamera2 and libcamera are apt packages, invisible to a plain venv.
python3 -m venv --system-site-packages "$prefix/venv"
"$prefix/venv/bin/pip" install --quiet --upgrade pip
# Keep apt's numpy where picamera2 is installed: its JPEG encoder (apt's python3-simplejpeg) is
# built against numpy 1.x and fails to import under the numpy 2 that pip would otherwise put in the
# venv (raspberrypi/picamera2#1088), so the camera would never open. Pinned, pip picks the last
# OpenCV built for numpy 1.x (4.11) and onnxruntime as usual.
# Re-running this mends a venv that already has numpy 2 (pip downgrades it and OpenCV).
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
picamera2=no
dpkg -s python3-picamera2 >/dev/null 2>&1 && picamera2=yes
if [ "$picamera2" = yes ]; then
  system_numpy=$(/usr/bin/python3 -c 'import numpy; print(numpy.__version__)' 2>/dev/null || true)
  if [ -n "$system_numpy" ]; then echo "numpy==$system_numpy" >"$constraints"; fi
fi
# [web]: the page (off until web.listen is set in the config), one small pure-Python file.
"$prefix/venv/bin/pip" install --quiet -c "$constraints" "$repo[web]"
if [ "$picamera2" = yes ] && ! error=$("$prefix/venv/bin/python" -c 'import picamera2' 2>&1 | tail -1); then
  echo "install.sh: $prefix/venv: picamera2 does not import ($error); expected it to, from apt's python3-picamera2" >&2
  exit 1
fi
install -d -m 0755 "$prefix/share"
cp -r "$repo/samples" "$prefix/share/"

install -d -m 0755 /etc/siamface
install -d -m 0750 -o siamface -g siamface /var/lib/siamface
if [ ! -e /etc/siamface/config.yaml ]; then
  sed -e 's|^source: .*|source: picamera2|' \
      -e 's|^gallery: .*|gallery: /var/lib/siamface/gallery.npz|' \
      -e "s|- samples/|- $prefix/share/samples/|" \
      "$repo/config.yaml" > /etc/siamface/config.yaml
  chmod 0644 /etc/siamface/config.yaml
fi

sed "s|/opt/siamface|$prefix|g" "$repo/systemd/siamface.service" > /etc/systemd/system/siamface.service
systemctl daemon-reload

cat <<NEXT
Installed. Next:
  1. list your people in /etc/siamface/config.yaml (name -> photos)
  2. sudo -u siamface $prefix/venv/bin/face-edge enroll --config /etc/siamface/config.yaml
  3. sudo systemctl enable --now siamface      (events: journalctl -u siamface -f)
After changing the config or the gallery: sudo systemctl reload siamface
NEXT
