#!/usr/bin/env bash
# Best effort: Debian's chromium and chromium-driver for the report's browser test
# (tests/test_report.py skips that one test, saying why, when they are missing).
# Installs only as root on a machine with apt-get; never fails the caller.
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium and chromium-driver for the report test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      chromium chromium-driver; } >/dev/null 2>&1 \
    || echo "warning: could not install chromium; the report's browser test will be skipped"
else
  echo "note: chromium and chromedriver are not installed; the report's browser test will be skipped"
fi
exit 0
