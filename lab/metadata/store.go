// Package metadata is the lab's Compute Engine metadata: each instance's metadata items (set
// through the compute API's instances.setMetadata, locked by fingerprint), the guest
// attributes its guest writes, and the metadata server a guest reads them from at
// 169.254.169.254 (server.go). The store is one JSON file in the lab's state, so the API
// daemon keeps it across restarts and `lab down` removes it with the rest of the state.
//
// GCE rules modelled: keys match [a-zA-Z0-9-_]{1,128}; a value is at most 256 KiB and all
// items together less than 512 KB; an update must carry the current fingerprint (else 412
// conditionNotMet); guest attributes are written only when the instance's metadata sets
// enable-guest-attributes to TRUE.
package metadata

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Item is one metadata key and value.
type Item struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// GuestEntry is one guest attribute.
type GuestEntry struct {
	Namespace string `json:"namespace"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

// Limits of GCE's Metadata resource, and the lab's bounds on guest attributes.
const (
	MaxValue      = 256 << 10
	MaxTotal      = 512 * 1000
	MaxGuestValue = 100 << 10
	MaxGuestKey   = 128
)

var keyRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// ErrFingerprint is an update whose fingerprint is not the current one.
var ErrFingerprint = errors.New("Supplied fingerprint does not match current metadata fingerprint.")

// InvalidError is a request GCE refuses with 400.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }

type record struct {
	Items []Item `json:"items,omitempty"`
	// Generation counts updates, so an update that sets the same items still changes the
	// fingerprint, as GCE's does.
	Generation uint64            `json:"generation"`
	Guest      map[string]string `json:"guest,omitempty"` // "namespace/key" → value
}

// Store holds every instance's metadata.
type Store struct {
	mu      sync.Mutex
	file    string
	recs    map[string]*record
	changed chan struct{} // closed and replaced on every change
}

// Open reads the store from file (absent: empty).
func Open(file string) (*Store, error) {
	s := &Store{file: file, recs: map[string]*record{}, changed: make(chan struct{})}
	data, err := os.ReadFile(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if err := json.Unmarshal(data, &s.recs); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return s, nil
}

func (s *Store) rec(instance string) *record {
	r := s.recs[instance]
	if r == nil {
		r = &record{}
		s.recs[instance] = r
	}
	return r
}

// save writes the store and wakes the waiters; s.mu is held.
func (s *Store) save() error {
	close(s.changed)
	s.changed = make(chan struct{})
	if s.file == "" {
		return nil
	}
	data, err := json.Marshal(s.recs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.file), 0o700); err != nil {
		return err
	}
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}

func fingerprint(r *record) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d\n", r.Generation)
	for _, it := range r.Items {
		fmt.Fprintf(h, "%q=%q\n", it.Key, it.Value)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:8])
}

// Metadata is an instance's items and their fingerprint.
func (s *Store) Metadata(instance string) ([]Item, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[instance]
	if r == nil {
		r = &record{}
	}
	return slices.Clone(r.Items), fingerprint(r)
}

// Value is one item's value.
func (s *Store) Value(instance, key string) (string, bool) {
	items, _ := s.Metadata(instance)
	for _, it := range items {
		if it.Key == key {
			return it.Value, true
		}
	}
	return "", false
}

// Validate checks items as instances.setMetadata does.
func Validate(items []Item) error {
	seen := map[string]bool{}
	total := 0
	for _, it := range items {
		if !keyRE.MatchString(it.Key) {
			return &InvalidError{fmt.Sprintf("Invalid value for field 'resource.items[].key': '%s'. Must match regex [a-zA-Z0-9-_]{1,128}.", it.Key)}
		}
		if seen[it.Key] {
			return &InvalidError{fmt.Sprintf("Duplicate metadata key: '%s'.", it.Key)}
		}
		seen[it.Key] = true
		if len(it.Value) > MaxValue {
			return &InvalidError{fmt.Sprintf("Value for metadata key '%s' is %d bytes; the limit is %d.", it.Key, len(it.Value), MaxValue)}
		}
		total += len(it.Key) + len(it.Value)
	}
	if total >= MaxTotal {
		return &InvalidError{fmt.Sprintf("Metadata has %d bytes; it must be less than %d.", total, MaxTotal)}
	}
	return nil
}

// SetMetadata replaces an instance's items when fp is the current fingerprint.
func (s *Store) SetMetadata(instance, fp string, items []Item) error {
	if err := Validate(items); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec(instance)
	if fp != fingerprint(r) {
		return ErrFingerprint
	}
	r.Items = slices.Clone(items)
	r.Generation++
	return s.save()
}

// guestEnabled reports enable-guest-attributes=TRUE in the instance's items.
func guestEnabled(r *record) bool {
	for _, it := range r.Items {
		if it.Key == "enable-guest-attributes" {
			return strings.EqualFold(strings.TrimSpace(it.Value), "true")
		}
	}
	return false
}

// ErrGuestDisabled is a guest write to an instance without enable-guest-attributes=TRUE.
var ErrGuestDisabled = errors.New("guest attributes are not enabled on this instance (metadata enable-guest-attributes=TRUE)")

// PutGuest sets one guest attribute (value "" with del removes it).
func (s *Store) PutGuest(instance, namespace, key, value string, del bool) error {
	if !keyRE.MatchString(namespace) || len(key) == 0 || len(key) > MaxGuestKey || strings.Contains(key, "/") {
		return &InvalidError{fmt.Sprintf("invalid guest attribute %q/%q", namespace, key)}
	}
	if len(value) > MaxGuestValue {
		return &InvalidError{fmt.Sprintf("guest attribute %s/%s is %d bytes; the limit is %d", namespace, key, len(value), MaxGuestValue)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec(instance)
	if !guestEnabled(r) {
		return ErrGuestDisabled
	}
	if r.Guest == nil {
		r.Guest = map[string]string{}
	}
	if del {
		delete(r.Guest, namespace+"/"+key)
	} else {
		r.Guest[namespace+"/"+key] = value
	}
	return s.save()
}

// Guest lists the guest attributes under queryPath ("" for all, "ns/" or "ns" for one
// namespace, "ns/key" for one), sorted.
func (s *Store) Guest(instance, queryPath string) []GuestEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.recs[instance]
	if r == nil {
		return nil
	}
	q := strings.Trim(queryPath, "/")
	var out []GuestEntry
	for k, v := range r.Guest {
		ns, key, _ := strings.Cut(k, "/")
		if q != "" && q != ns && q != k {
			continue
		}
		out = append(out, GuestEntry{Namespace: ns, Key: key, Value: v})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Key < out[j].Namespace+"/"+out[j].Key
	})
	return out
}

// Forget removes an instance's metadata and guest attributes (the instance was deleted).
func (s *Store) Forget(instance string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.recs[instance]; !ok {
		return nil
	}
	delete(s.recs, instance)
	return s.save()
}

// watch returns a channel closed at the next change.
func (s *Store) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Instances lists the instances that have metadata or guest attributes.
func (s *Store) Instances() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.recs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
