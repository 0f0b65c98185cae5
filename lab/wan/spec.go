package wan

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"reachgate/lab/internal/specfile"
)

// DefaultQueueLimit bounds the packets held per direction; more are dropped (tail drop),
// as a real link's buffer would. 20,000 full-size packets fill 75 ms of a 3 Gbit/s link.
const DefaultQueueLimit = 20000

// Spec is what one element's daemon serves: the impaired interface and the impairment.
type Spec struct {
	Interface  string // the veth in the daemon's namespace, e.g. "l0"
	Impairment Impairment
	QueueLimit int    // packets held per direction; 0 means DefaultQueueLimit
	Seed       uint64 // loss and jitter randomness; 0 means a fresh seed per start
}

// specFile is the on-disk form (JSON): durations and rate are strings such as "15ms", "20mbit".
type specFile struct {
	Interface  string  `json:"interface"`
	Delay      string  `json:"delay,omitempty"`
	Jitter     string  `json:"jitter,omitempty"`
	Loss       float64 `json:"loss,omitempty"`
	Rate       string  `json:"rate,omitempty"`
	QueueLimit int     `json:"queueLimit,omitempty"`
	Seed       uint64  `json:"seed,omitempty"`
}

// ifName matches the interfaces the element can serve: its TUN names add 3 characters,
// and Linux allows 15.
var ifName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,12}$`)

// Validate reports every problem of s.
func (s Spec) Validate() error {
	var errs []error
	if !ifName.MatchString(s.Interface) {
		errs = append(errs, fmt.Errorf("interface %q: use 1-12 letters, digits, '_', '.' or '-' (the element adds 3 characters for its TUN devices)", s.Interface))
	}
	if s.QueueLimit < 0 {
		errs = append(errs, fmt.Errorf("queueLimit %d: must be positive, or 0 for %d", s.QueueLimit, DefaultQueueLimit))
	}
	if err := s.Impairment.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// WriteSpec writes s to path atomically (a reader never sees half a file).
func WriteSpec(path string, s Spec) error {
	if err := s.Validate(); err != nil {
		return fmt.Errorf("wan spec for %s: %w", path, err)
	}
	f := specFile{Interface: s.Interface, Loss: s.Impairment.Loss, QueueLimit: s.QueueLimit, Seed: s.Seed}
	if s.Impairment.Delay != 0 {
		f.Delay = s.Impairment.Delay.String()
	}
	if s.Impairment.Jitter != 0 {
		f.Jitter = s.Impairment.Jitter.String()
	}
	if s.Impairment.Rate != 0 {
		f.Rate = FormatRate(s.Impairment.Rate)
	}
	return specfile.WriteJSON(path, "wan spec", f)
}

// LoadSpec reads a spec strictly (unknown fields are errors) and validates it.
func LoadSpec(path string) (Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read wan spec: %w", err)
	}
	var f specFile
	if len(bytes.TrimSpace(data)) == 0 {
		return Spec{}, fmt.Errorf("wan spec %s: the file is empty; write a JSON object such as {\"interface\": \"l0\", \"delay\": \"15ms\"}", path)
	}
	if err := specfile.DecodeJSON(data, &f); err != nil {
		return Spec{}, fmt.Errorf("wan spec %s: %w", path, err)
	}
	s := Spec{Interface: f.Interface, QueueLimit: f.QueueLimit, Seed: f.Seed, Impairment: Impairment{Loss: f.Loss}}
	var errs []error
	for _, d := range []struct {
		field, text string
		to          *time.Duration
	}{{"delay", f.Delay, &s.Impairment.Delay}, {"jitter", f.Jitter, &s.Impairment.Jitter}} {
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a duration; write e.g. \"15ms\" or \"500us\"", d.field, d.text))
		}
		*d.to = v
	}
	if f.Rate != "" {
		if s.Impairment.Rate, err = ParseRate(f.Rate); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		err = s.Validate()
	} else {
		err = errors.Join(errs...)
	}
	if err != nil {
		return Spec{}, fmt.Errorf("wan spec %s: %w", path, err)
	}
	if s.QueueLimit == 0 {
		s.QueueLimit = DefaultQueueLimit
	}
	return s, nil
}
