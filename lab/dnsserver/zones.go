// Package dnsserver is the lab's stand-in for a cloud VPC's DNS resolver with private
// hosted zones: the third-party VPC resolves names such as gke.goog to Google's private
// API VIPs through it. It answers A queries from a JSON zone file it re-reads whenever the
// file changes, and has no upstream: a name outside every zone does not exist.
package dnsserver

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"reachgate/lab/internal/specfile"
)

// File is the zone file: the private hosted zones the resolver serves.
type File struct {
	Zones []Zone `json:"zones"`
}

// Zone is one private hosted zone, such as "gke.goog.".
type Zone struct {
	Name    string   `json:"name"`
	Records []Record `json:"records"`
}

// Record is a name's A records. A name "*.suffix." is a wildcard: it matches every name
// with at least one more label under suffix, unless a more specific record exists.
type Record struct {
	Name string   `json:"name"`
	A    []string `json:"a"`
}

// WriteFile writes f to path atomically (a temporary file renamed over path, mode 0644),
// so a running server never reads half a zone file.
func WriteFile(path string, f File) error {
	return specfile.WriteJSON(path, "DNS zone file", f)
}

// ReadFile reads the zone file at path; a missing file is an empty File.
func ReadFile(path string) (File, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return File{}, nil
	}
	if err != nil {
		return File{}, fmt.Errorf("read DNS zone file: %w", err)
	}
	var f File
	if err := specfile.DecodeJSON(data, &f); err != nil {
		return File{}, fmt.Errorf("DNS zone file %s: %w", path, err)
	}
	return f, nil
}

// canonical lower-cases name and makes it absolute (one trailing dot).
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// under reports whether name is suffix or inside it (both canonical).
func under(name, suffix string) bool {
	return suffix == "." || name == suffix || strings.HasSuffix(name, "."+suffix)
}

// zoneSet is a zone file compiled for lookups.
type zoneSet struct {
	zones []zone
}

type zone struct {
	name string
	// exact maps a canonical name to its addresses; wild maps the suffix of a wildcard
	// record ("gke.goog." for "*.gke.goog.") to its addresses.
	exact map[string][]netip.Addr
	wild  map[string][]netip.Addr
}

// compile checks f and indexes it. Zone and record names are normalized; every address
// must be IPv4 and every record must lie inside its zone.
func compile(f File) (*zoneSet, error) {
	zs := &zoneSet{}
	seen := map[string]bool{}
	for _, z := range f.Zones {
		if strings.TrimSpace(z.Name) == "" {
			return nil, errors.New("a zone has no name")
		}
		cz := zone{name: canonical(z.Name), exact: map[string][]netip.Addr{}, wild: map[string][]netip.Addr{}}
		if seen[cz.name] {
			return nil, fmt.Errorf("zone %s is listed twice", cz.name)
		}
		seen[cz.name] = true
		for _, r := range z.Records {
			name := canonical(r.Name)
			if !under(name, cz.name) {
				return nil, fmt.Errorf("zone %s: record %s is outside the zone", cz.name, name)
			}
			addrs := make([]netip.Addr, 0, len(r.A))
			for _, a := range r.A {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					return nil, fmt.Errorf("zone %s: record %s: %q is not an IPv4 address", cz.name, name, a)
				}
				addrs = append(addrs, ip)
			}
			target := cz.exact
			if suffix, ok := strings.CutPrefix(name, "*."); ok {
				name, target = suffix, cz.wild
			}
			target[name] = append(target[name], addrs...)
		}
		zs.zones = append(zs.zones, cz)
	}
	return zs, nil
}

// lookup finds name (canonical) in the most specific zone holding it. It returns that
// zone's name ("" when no zone holds name), the name's addresses, and whether it has a
// record at all. An exact record wins over wildcards; the longest wildcard suffix wins
// over shorter ones.
func (zs *zoneSet) lookup(name string) (zoneName string, addrs []netip.Addr, found bool) {
	var best *zone
	for i := range zs.zones {
		z := &zs.zones[i]
		if under(name, z.name) && (best == nil || len(z.name) > len(best.name)) {
			best = z
		}
	}
	if best == nil {
		return "", nil, false
	}
	if addrs, ok := best.exact[name]; ok {
		return best.name, addrs, true
	}
	// Walk up the labels of name: "a.b.gke.goog." tries "b.gke.goog.", then "gke.goog.".
	for rest := name; ; {
		_, parent, ok := strings.Cut(rest, ".")
		if !ok || parent == "" || !under(parent, best.name) {
			return best.name, nil, false
		}
		if addrs, ok := best.wild[parent]; ok {
			return best.name, addrs, true
		}
		rest = parent
	}
}

// Lookup answers name from zones as the server would: its A addresses, nil when it has none
// (or the zones are invalid).
func Lookup(zones []Zone, name string) []netip.Addr {
	zs, err := compile(File{Zones: zones})
	if err != nil {
		return nil
	}
	_, addrs, _ := zs.lookup(canonical(name))
	return addrs
}
