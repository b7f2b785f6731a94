#!/bin/sh
# Installs Debian's openssh-server (and client) for the SSH end-to-end test
# when sshd is missing. Never fails: without sshd the test skips with a message.
# Does not start or enable the system ssh service.
if [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1; then
  exit 0
fi
SUDO=
[ "$(id -u)" = 0 ] || SUDO="sudo -n"
export DEBIAN_FRONTEND=noninteractive
if $SUDO apt-get update -qq >/dev/null 2>&1 &&
  $SUDO apt-get install -y -qq --no-install-recommends openssh-server openssh-client >/dev/null 2>&1; then
  # Debian's postinst may start the service under some init systems; we run our own sshd.
  $SUDO service ssh stop >/dev/null 2>&1 || true
  echo "install_sshd: openssh-server installed"
else
  echo "install_sshd: warning: could not install openssh-server; the SSH test will skip" >&2
fi
exit 0
