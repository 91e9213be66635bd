#!/bin/sh
# TLS for the all-in-one (stack.sh with TS_TLS=1): a small CA of its own and
# a server certificate for the controller's APIs, and the configuration
# lines that use them. Every step is idempotent: what exists is kept.
#   packaging/tls.sh certs DIR NAME...
#       DIR/ca.pem + ca.key (the CA, 10 years) and DIR/server.pem +
#       server.key (2 years) naming 127.0.0.1, localhost and each NAME (an
#       IPv4/IPv6 literal or a DNS name). Keys 0600, DIR 0700 but ca.pem
#       readable. A certificate that lacks one of the names is made again.
#   packaging/tls.sh controller CONF DIR
#       [api] tls_cert_file/tls_key_file of DIR in the controller's CONF.
#   packaging/tls.sh agent CONF CAFILE
#       [image] api_url https:// and ca_file = CAFILE in an agent's CONF.
#   packaging/tls.sh openrc FILE CAFILE
#       export OS_CACERT=CAFILE in an openrc file (the clients verify the
#       APIs' certificate with it).
set -eu

die() { echo "tls.sh: $*" >&2; exit 1; }

# has_names PEM NAME...: the certificate's subjectAltName holds every name
has_names() {
	pem=$1; shift
	san=$(openssl x509 -in "$pem" -noout -ext subjectAltName 2>/dev/null) ||
		return 1
	for n in 127.0.0.1 localhost "$@"; do
		case $n in
		*:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*) k="IP Address:$n" ;;
		*) k="DNS:$n" ;;
		esac
		printf '%s\n' "$san" | tr ',' '\n' | sed 's/^ *//' |
			grep -qixF "$k" || return 1
	done
}

certs() {
	dir=$1; shift
	mkdir -p "$dir"
	chmod 0755 "$dir"
	(
	umask 077
	if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/ca.key" ]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$dir/ca.key" -out "$dir/ca.pem" \
			-days 3650 -subj "/CN=tinystack all-in-one CA" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" \
			>/dev/null 2>&1 || die "cannot create the CA"
		rm -f "$dir/server.pem"
	fi
	if [ -s "$dir/server.pem" ] && [ -s "$dir/server.key" ] &&
	    has_names "$dir/server.pem" "$@" &&
	    openssl verify -CAfile "$dir/ca.pem" "$dir/server.pem" \
	    >/dev/null 2>&1; then
		exit 0
	fi
	san="IP:127.0.0.1,DNS:localhost"
	for n in "$@"; do
		case $n in
		*:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*) san="$san,IP:$n" ;;
		*) san="$san,DNS:$n" ;;
		esac
	done
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$dir/server.key" -out "$dir/server.csr" \
		-subj "/CN=${1:-localhost}" >/dev/null 2>&1 ||
		die "cannot create the server key"
	printf 'subjectAltName = %s\nextendedKeyUsage = serverAuth\n' \
		"$san" > "$dir/server.ext"
	openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" \
		-CAkey "$dir/ca.key" -CAcreateserial -days 730 \
		-extfile "$dir/server.ext" -out "$dir/server.pem" \
		>/dev/null 2>&1 || die "cannot sign the server certificate"
	rm -f "$dir/server.csr" "$dir/server.ext"
	)
	chmod 0644 "$dir/ca.pem" "$dir/server.pem"
}

# set_in_section CONF SECTION KEY VALUE: KEY = VALUE in [SECTION] (the
# section is added at the end if missing; an existing KEY line is
# replaced).
set_in_section() {
	conf=$1 sec=$2 key=$3 val=$4
	[ -f "$conf" ] || die "$conf: no such file"
	awk -v sec="[$sec]" -v key="$key" -v val="$val" '
		function emit() { print key " = " val; done = 1 }
		function flush() { for (; blank > 0; blank--) print "" }
		/^[ \t]*$/ { blank++; next }
		/^\[/ { if (insec && !done) emit(); flush()
			insec = ($0 == sec); seen = seen || insec; print; next }
		insec && $0 ~ "^[ \t]*" key "[ \t]*=" { flush()
			if (!done) emit(); next }
		{ flush(); print }
		END { if (insec && !done) emit()
			if (!seen) { print ""; print sec; emit() } }
' "$conf" > "$conf.tls.tmp"
	cat "$conf.tls.tmp" > "$conf"	# keeps the file's owner and mode
	rm -f "$conf.tls.tmp"
}

case ${1:-} in
certs)
	[ $# -ge 2 ] || die "usage: tls.sh certs DIR NAME..."
	shift; certs "$@" ;;
controller)
	[ $# -eq 3 ] || die "usage: tls.sh controller CONF DIR"
	set_in_section "$2" api tls_cert_file "$3/server.pem"
	set_in_section "$2" api tls_key_file "$3/server.key" ;;
agent)
	[ $# -eq 3 ] || die "usage: tls.sh agent CONF CAFILE"
	url=$(awk '/^\[/ { s = $0 } s == "[image]" && $1 == "api_url" { print $3 }' "$2")
	case $url in
	http://*) set_in_section "$2" image api_url "https://${url#http://}" ;;
	https://*) ;;
	*) die "$2: no [image] api_url" ;;
	esac
	set_in_section "$2" image ca_file "$3" ;;
openrc)
	[ $# -eq 3 ] || die "usage: tls.sh openrc FILE CAFILE"
	[ -f "$2" ] || die "$2: no such file"
	if ! grep -qx "export OS_CACERT=$3" "$2"; then
		sed -i '/^export OS_CACERT=/d' "$2"
		echo "export OS_CACERT=$3" >> "$2"
	fi ;;
*)
	die "usage: tls.sh certs|controller|agent|openrc ..." ;;
esac
