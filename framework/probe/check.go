package probe

import (
	"strconv"
	"time"
)

// Check is the verdict of one check: pass or fail, and why, in words a platform engineer
// reads without the source.
type Check struct {
	Name   string `json:"name"`
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
	// Expected marks a failing check as the known defect of what was checked (the seed
	// variant's, as the article wrote it): reports show it as a finding, not as a failure.
	Expected bool `json:"expected,omitempty"`
}

// Ms is a duration in milliseconds, the unit results are read in.
type Ms float64

// ToMs converts a duration.
func ToMs(d time.Duration) Ms { return Ms(float64(d) / float64(time.Millisecond)) }

// Duration converts back.
func (m Ms) Duration() time.Duration { return time.Duration(float64(m) * float64(time.Millisecond)) }

// String formats with microsecond precision ("1.234 ms").
func (m Ms) String() string { return strconv.FormatFloat(float64(m), 'f', 3, 64) + " ms" }

// AllPass reports whether every check passed.
func AllPass(checks []Check) bool {
	for _, c := range checks {
		if !c.Pass {
			return false
		}
	}
	return true
}
