#!/bin/sh
# Debian packages the test suite drives as real clients. Installs only what is missing,
# and only as root (CI runs as root); otherwise prints what to install.
set -e
need=""
command -v logger >/dev/null 2>&1 || need="$need bsdutils"
[ -x /usr/bin/chromium ] || need="$need chromium"   # the UI tests drive it through Playwright
command -v prometheus >/dev/null 2>&1 || need="$need prometheus"  # scrapes, remote_write, promtool
command -v prometheus-alertmanager >/dev/null 2>&1 || need="$need prometheus-alertmanager"  # alert delivery
command -v java >/dev/null 2>&1 || need="$need openjdk-17-jre-headless"  # PySpark reads the lake
[ -x /usr/sbin/rsyslogd ] || need="$need rsyslog"  # omfwd ships syslog to the listeners
ls /usr/lib/*/rsyslog/omelasticsearch.so >/dev/null 2>&1 || need="$need rsyslog-elasticsearch"  # omelasticsearch
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
else
    echo "tests need these Debian packages:$need (run: sudo apt-get install$need)" >&2
    exit 1
fi
