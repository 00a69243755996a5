#!/usr/bin/env bash
# engine-tls: the certificates of one node's authenticated engine API (dockerd --tlsverify). Runs on the machine
# running Pulumi (not on a node); needs openssl. A fresh CA signs one server and one client certificate; the CA's
# key is thrown away, so no other certificate can ever be signed for this engine (rotation = new material).
# env:    SERVER_NAMES   space-separated names the server certificate holds (IPv4 addresses and DNS names;
#                        the address the docker provider dials must be one of them)
#         VALIDITY_DAYS  validity of all three certificates
#         GENERATION     not read: a new value changes the payload, which makes the program run this again (rotation)
# stdout: exactly one JSON line {"ca":…,"serverCert":…,"serverKey":…,"clientCert":…,"clientKey":…}, each value a
#         base64-encoded PEM. Secret: the caller marks it so and keeps it out of every log.
set -euo pipefail
exec 3>&1 1>&2 # stdout is the result only; everything else goes to stderr

: "${SERVER_NAMES:?SERVER_NAMES is required}"
: "${VALIDITY_DAYS:?VALIDITY_DAYS is required}"

die() { echo "engine-tls: ERROR: $*" >&2; exit 1; }

command -v openssl >/dev/null 2>&1 || die "openssl is not installed on the machine running Pulumi (Debian: apt-get install openssl)"
[[ $VALIDITY_DAYS =~ ^[0-9]+$ ]] || die "VALIDITY_DAYS must be a number of days (got '$VALIDITY_DAYS')"

umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

san=""
for name in $SERVER_NAMES; do
    if [[ $name =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then san+="${san:+,}IP:$name"
    elif [[ $name =~ ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$ ]]; then san+="${san:+,}DNS:$name"
    else die "'$name' is neither an IPv4 address nor a DNS name"
    fi
done

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$VALIDITY_DAYS" -subj "/CN=swarm-platform engine CA (${NODE_NAME})" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

sign() { # NAME CN EXTENSIONS
    key "$1.key"
    openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$VALIDITY_DAYS" \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
sign server "$NODE_NAME" "extendedKeyUsage=serverAuth
subjectAltName=$san"
sign client "swarm-platform" "extendedKeyUsage=clientAuth"
openssl verify -CAfile ca.pem server.pem client.pem >/dev/null || die "the generated certificates do not verify"

b64() { base64 -w0 <"$1"; }
printf '{"ca":"%s","serverCert":"%s","serverKey":"%s","clientCert":"%s","clientKey":"%s"}\n' \
    "$(b64 ca.pem)" "$(b64 server.pem)" "$(b64 server.key)" "$(b64 client.pem)" "$(b64 client.key)" >&3
