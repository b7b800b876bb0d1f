#!/bin/sh
# Entrypoint of the linkctl PBX container (Asterisk 22).
#
# Copies the site configuration (mounted read-only at $LINKCTL_PBX_CONF_SRC)
# into $LINKCTL_PBX_CONF_DST and writes the two files that depend on the
# environment, then runs Asterisk in the foreground:
#   ari_users.conf         the [linkctl] ARI user: LINKCTL_ARI_PASSWORD (required),
#                          LINKCTL_ARI_PERMIT (allowed sources, default the compose network)
#   pjsip_transports.conf  UDP and TCP transports on LINKCTL_PBX_SIP_PORT (5060); with
#                          LINKCTL_PBX_EXTERNAL_IP set, the NAT addresses for
#                          LINKCTL_PBX_LOCAL_NET
#
# "entrypoint.sh render" only writes the configuration (used by the tests);
# any other command is executed as given.
set -eu

SRC=${LINKCTL_PBX_CONF_SRC:-/etc/linkctl-pbx/conf}
DST=${LINKCTL_PBX_CONF_DST:-/etc/asterisk}

die() {
	echo "linkctl-pbx: $*" >&2
	exit 64
}

# conf_value escapes a value for an Asterisk .conf file, where ';' starts a comment.
conf_value() {
	printf '%s' "$1" | sed 's/;/\\;/g'
}

render() {
	[ -d "$SRC" ] || die "configuration folder $SRC not found"
	[ -n "${LINKCTL_ARI_PASSWORD:-}" ] || die "LINKCTL_ARI_PASSWORD is required (the ARI password linkctl uses)"
	case "$LINKCTL_ARI_PASSWORD" in
	*"
"*) die "LINKCTL_ARI_PASSWORD must be one line" ;;
	esac
	port=${LINKCTL_PBX_SIP_PORT:-5060}
	case "$port" in
	'' | *[!0-9]*) die "LINKCTL_PBX_SIP_PORT=$port is not a port number" ;;
	esac

	mkdir -p "$DST"
	cp "$SRC"/*.conf "$DST"/

	umask 077
	{
		echo "; Written by the container entrypoint; edit the environment, not this file."
		echo "[linkctl]"
		echo "type = user"
		echo "read_only = no"
		echo "password_format = plain"
		echo "password = $(conf_value "$LINKCTL_ARI_PASSWORD")"
		echo "deny = 0.0.0.0/0.0.0.0"
		for net in $(echo "${LINKCTL_ARI_PERMIT:-127.0.0.1/32,172.30.45.0/24}" | tr ',' ' '); do
			echo "permit = $net"
		done
	} >"$DST/ari_users.conf"
	umask 022

	{
		echo "; Written by the container entrypoint from LINKCTL_PBX_* variables."
		for proto in udp tcp; do
			echo
			echo "[transport-$proto]"
			echo "type = transport"
			echo "protocol = $proto"
			echo "bind = 0.0.0.0:$port"
			if [ -n "${LINKCTL_PBX_EXTERNAL_IP:-}" ]; then
				echo "external_media_address = $LINKCTL_PBX_EXTERNAL_IP"
				echo "external_signaling_address = $LINKCTL_PBX_EXTERNAL_IP"
				echo "external_signaling_port = $port"
				for net in $(echo "${LINKCTL_PBX_LOCAL_NET:-172.30.45.0/24}" | tr ',' ' '); do
					echo "local_net = $net"
				done
			fi
		done
	} >"$DST/pjsip_transports.conf"
}

case "${1:-run}" in
render)
	render
	;;
run)
	render
	exec asterisk -f -vvv
	;;
*)
	exec "$@"
	;;
esac
