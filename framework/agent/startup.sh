#!/bin/sh
# reachgate agent bootstrap: a VM's startup script. It fetches the agent binary named by the
# instance's metadata (reachgate-agent-url, checked against reachgate-agent-sha256) and starts
# it; the agent takes jobs from the metadata and answers in guest attributes. On GCP the URL is
# a Cloud Storage object read through Private Google Access with the VM's service-account
# token; in the lab, a file:// URL (the lab's instances share its filesystem).
set -eu
md=http://169.254.169.254/computeMetadata/v1
attr() { curl -sf --retry 5 --retry-connrefused -H 'Metadata-Flavor: Google' "$md/instance/attributes/$1"; }
url=$(attr reachgate-agent-url)
want=$(attr reachgate-agent-sha256)
dir=${REACHGATE_AGENT_DIR:-/var/lib/reachgate-agent}
mkdir -p "$dir"
case "$url" in
https://*)
	token=$(curl -sf -H 'Metadata-Flavor: Google' "$md/instance/service-accounts/default/token" |
		sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')
	curl -sfL --retry 5 -H "Authorization: Bearer $token" -o "$dir/reachgate.new" "$url" ;;
file://*)
	# The lab: its VMs share its filesystem, as an image with the agent baked in would.
	ln -sf "${url#file://}" "$dir/reachgate.new" ;;
*)
	echo "reachgate agent: reachgate-agent-url $url: want https:// or file://" >&2; exit 1 ;;
esac
got=$(sha256sum "$dir/reachgate.new" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
	echo "reachgate agent: $url has sha256 $got, the metadata says $want" >&2
	rm -f "$dir/reachgate.new"; exit 1
fi
[ -L "$dir/reachgate.new" ] || chmod 755 "$dir/reachgate.new"
mv -f "$dir/reachgate.new" "$dir/reachgate"
nohup "$dir/reachgate" agent >>"$dir/agent.log" 2>&1 </dev/null &
echo "reachgate agent started (pid $!)"
