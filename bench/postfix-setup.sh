#!/bin/sh
# A real Postfix for the email bench (BENCH_EMAIL_SERVER=postfix node dist-bench/bench/email.js), on loopback only.
#
# Debian's Postfix and Dovecot (for SASL), as the email target of issue 17 was first measured: STARTTLS required
# (smtpd_tls_security_level=encrypt), AUTH required to relay and offered only after STARTTLS, every message queued
# to disk as Postfix always does (cleanup fsyncs the queue file before it answers 250) and then discarded by the
# queue manager, so nothing leaves the machine. Postfix logs each message's X-xtconnect-Batch-Id header (a
# header_checks INFO rule) to its own log file, which the bench reads to find a message lost or sent twice.
#
# Run as root on a bench machine: it writes /etc/postfix/main.cf and master.cf, and refuses to when a main.cf that
# this script did not write is there (a Postfix set up for real mail). Dovecot runs as an instance of its own
# (its own config and base_dir), so the machine's Dovecot configuration is left alone. Idempotent: run again, it
# rewrites the same files and restarts both.
#
#   BENCH_POSTFIX_PORT (2525), BENCH_POSTFIX_LOG (/var/log/postfix-xtc-bench.log)
# The bench's login is bench / bench-secret-not-real (a bench-only secret, also in bench/email.ts).
set -eu

PORT="${BENCH_POSTFIX_PORT:-2525}"
LOG="${BENCH_POSTFIX_LOG:-/var/log/postfix-xtc-bench.log}"
MARK='# written by xtconnect bench/postfix-setup.sh'
DIR=/etc/xtconnect-bench

if [ "$(id -u)" != 0 ]; then echo "bench/postfix-setup.sh: run as root (it installs and configures Postfix)" >&2; exit 2; fi
case "$PORT" in ''|*[!0-9]*) echo "BENCH_POSTFIX_PORT: a port number, not '$PORT'" >&2; exit 2;; esac
if [ -f /etc/postfix/main.cf ] && ! head -1 /etc/postfix/main.cf | grep -qF "$MARK"; then
  echo "bench/postfix-setup.sh: /etc/postfix/main.cf was not written by this script; refusing to replace a Postfix set up for something else" >&2
  exit 2
fi

if ! command -v postfix >/dev/null || ! command -v dovecot >/dev/null; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  DEBIAN_FRONTEND=noninteractive apt-get install -y postfix dovecot-core
fi

mkdir -p "$DIR"
# A certificate for 127.0.0.1 that the bench's clients verify (it is their CA file).
if [ ! -s "$DIR/postfix-cert.pem" ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$DIR/postfix-key.pem" \
    -out "$DIR/postfix-cert.pem" -days 3650 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>/dev/null
  chmod 600 "$DIR/postfix-key.pem"
  chmod 644 "$DIR/postfix-cert.pem"
fi

# SASL: a Dovecot of its own that only authenticates, for Postfix's smtpd through a socket in Postfix's queue.
echo 'bench:{PLAIN}bench-secret-not-real' > "$DIR/dovecot-users"
chown root:dovecot "$DIR/dovecot-users"
chmod 640 "$DIR/dovecot-users"
cat > "$DIR/dovecot.conf" <<EOF
$MARK
base_dir = /run/dovecot-xtc-bench
instance_name = dovecot-xtc-bench
protocols =
ssl = no
auth_mechanisms = plain login
log_path = /var/log/dovecot-xtc-bench.log
passdb {
  driver = passwd-file
  args = $DIR/dovecot-users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener /var/spool/postfix/private/xtc-bench-auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOF

echo '/^X-xtconnect-Batch-Id:/ INFO' > /etc/postfix/xtc-bench-header-checks
cat > /etc/postfix/main.cf <<EOF
$MARK
compatibility_level = 3.6
myhostname = bench.localhost
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
maillog_file = $LOG
smtpd_tls_cert_file = $DIR/postfix-cert.pem
smtpd_tls_key_file = $DIR/postfix-key.pem
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/xtc-bench-auth
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
header_checks = regexp:/etc/postfix/xtc-bench-header-checks
default_transport = discard:xtconnect bench
relay_transport = discard:xtconnect bench
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
EOF

# Debian's services, none chrooted (the chroot needs files that Debian's init script copies in), smtpd on PORT.
cat > /etc/postfix/master.cf <<EOF
$MARK
$PORT     inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF

touch "$LOG"
postfix check
doveadm -c "$DIR/dovecot.conf" stop >/dev/null 2>&1 || true
dovecot -c "$DIR/dovecot.conf"
if postfix status >/dev/null 2>&1; then postfix reload; else postfix start; fi

# Ready when the port answers.
i=0
until (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 50 ]; then echo "Postfix did not listen on 127.0.0.1:$PORT within 10 s; see $LOG" >&2; exit 1; fi
  sleep 0.2
done
echo "Postfix on 127.0.0.1:$PORT (STARTTLS and AUTH required, messages discarded after queueing); CA file $DIR/postfix-cert.pem; log $LOG"
