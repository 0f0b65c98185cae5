package wan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Impairment is what one link does to every packet crossing it, in each direction.
// Delay and Jitter are one-way, so the round trip over the link gains 2×Delay.
type Impairment struct {
	Delay  time.Duration // one-way hold per packet
	Jitter time.Duration // each packet is held Delay ± up to Jitter (uniform), never reordered
	Loss   float64       // percent of packets dropped, per direction (0-100)
	Rate   uint64        // bits per second per direction, 0 for unlimited
}

// Limits of what the element emulates well.
const (
	MaxDelay = 5 * time.Second
	MinRate  = 64_000 // bits/s: below this tbf's burst (one MTU) dominates
)

// RTT is the round trip the impairment adds to a path crossing the link once each way.
func (i Impairment) RTT() time.Duration { return 2 * i.Delay }

// IsZero reports whether the impairment changes nothing.
func (i Impairment) IsZero() bool { return i == Impairment{} }

func (i Impairment) String() string {
	if i.IsZero() {
		return "none"
	}
	s := fmt.Sprintf("delay %v±%v (rtt %v)", i.Delay, i.Jitter, i.RTT())
	if i.Loss > 0 {
		s += fmt.Sprintf(", loss %g%%", i.Loss)
	}
	if i.Rate > 0 {
		s += ", rate " + FormatRate(i.Rate)
	}
	return s
}

// Validate reports every problem of i with how to fix it.
func (i Impairment) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if i.Delay < 0 || i.Delay > MaxDelay {
		bad("delay %v: must be between 0 and %v (one-way; the round trip gains twice the delay)", i.Delay, MaxDelay)
	}
	if i.Jitter < 0 {
		bad("jitter %v: must not be negative", i.Jitter)
	} else if i.Jitter > i.Delay {
		bad("jitter %v exceeds delay %v: a packet is held delay±jitter, so keep jitter ≤ delay (e.g. jitter=%v)", i.Jitter, i.Delay, i.Delay/10)
	}
	if math.IsNaN(i.Loss) || i.Loss < 0 || i.Loss >= 100 {
		bad("loss %v: must be a percentage from 0 up to (not including) 100, e.g. loss=1 for 1%%", i.Loss)
	}
	if i.Rate != 0 && i.Rate < MinRate {
		bad("rate %s: must be 0 (unlimited) or at least %s", FormatRate(i.Rate), FormatRate(MinRate))
	}
	return errors.Join(errs...)
}

// Profiles are the named impairments. Round trips are what a path crossing the link
// once each way gains: same-metro ~2 ms (a Partner/Dedicated Interconnect in the same
// metro), cross-region ~30 ms, intercontinental ~150 ms, lossy-vpn an HA VPN over the
// internet with 1 % loss.
var Profiles = map[string]Impairment{
	"none":             {},
	"same-metro":       {Delay: time.Millisecond, Jitter: 50 * time.Microsecond},
	"cross-region":     {Delay: 15 * time.Millisecond, Jitter: 500 * time.Microsecond},
	"intercontinental": {Delay: 75 * time.Millisecond, Jitter: 2 * time.Millisecond},
	"lossy-vpn":        {Delay: 15 * time.Millisecond, Jitter: 2 * time.Millisecond, Loss: 1},
}

// ProfileNames lists the profiles in a stable order.
func ProfileNames() []string {
	names := make([]string, 0, len(Profiles))
	for n := range Profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Resolve returns a named profile ("" means none) with overrides applied. Each override is
// key=value with key delay, jitter (durations such as 20ms), rtt (sets delay to half),
// loss (percent) or rate (such as 20mbit). The result is validated.
func Resolve(profile string, overrides ...string) (Impairment, error) {
	if profile == "" {
		profile = "none"
	}
	imp, ok := Profiles[profile]
	if !ok {
		return Impairment{}, fmt.Errorf("profile %q is not defined; use one of %s, or none with delay=…", profile, strings.Join(ProfileNames(), ", "))
	}
	var errs []error
	for _, o := range overrides {
		if err := imp.set(o); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Impairment{}, err
	}
	if err := imp.Validate(); err != nil {
		return Impairment{}, fmt.Errorf("profile %s with overrides %q: %w", profile, overrides, err)
	}
	return imp, nil
}

// set applies one key=value override.
func (i *Impairment) set(o string) error {
	key, val, ok := strings.Cut(o, "=")
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	if !ok || val == "" {
		return fmt.Errorf("override %q: write key=value, e.g. delay=20ms, jitter=1ms, rtt=30ms, loss=1 or rate=20mbit", o)
	}
	switch key {
	case "delay", "jitter", "rtt":
		d, err := time.ParseDuration(val)
		if err != nil {
			return fmt.Errorf("override %s=%s: not a duration; write e.g. %s=20ms or %s=500us", key, val, key, key)
		}
		switch key {
		case "delay":
			i.Delay = d
		case "jitter":
			i.Jitter = d
		default:
			i.Delay = d / 2
		}
	case "loss":
		v, err := strconv.ParseFloat(strings.TrimSuffix(val, "%"), 64)
		if err != nil {
			return fmt.Errorf("override loss=%s: not a number; write the percentage, e.g. loss=1 or loss=0.5", val)
		}
		i.Loss = v
	case "rate":
		r, err := ParseRate(val)
		if err != nil {
			return fmt.Errorf("override rate=%s: %w", val, err)
		}
		i.Rate = r
	default:
		return fmt.Errorf("override %q: unknown key %q; use delay, jitter, rtt, loss or rate", o, key)
	}
	return nil
}

var rateUnits = []struct {
	suffix string
	mult   uint64
}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}

// ParseRate reads a rate in bits per second as tc writes it: "20mbit", "500kbit",
// "1gbit", or a plain number of bits per second. "0" means unlimited.
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := uint64(1)
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("rate %q is not a rate; write bits per second with kbit, mbit or gbit, e.g. \"20mbit\" (bytes units such as mbps are not accepted)", s)
	}
	return uint64(v * float64(mult)), nil
}

// FormatRate writes bits per second in tc's units.
func FormatRate(r uint64) string {
	for _, u := range rateUnits {
		if r >= u.mult && r%u.mult == 0 {
			return strconv.FormatUint(r/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatUint(r, 10) + "bit"
}
