package suiterun

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUSample is the machine's CPU time so far, from /proc/stat's first line: busy (every state
// but idle and iowait) and in all, summed over its cores.
type CPUSample struct {
	Busy, Total time.Duration
	ok          bool
}

// userHZ is the unit of /proc/stat: USER_HZ, 100 on every Linux architecture Go supports.
const userHZ = 100

// SampleCPU reads /proc/stat (a zero sample where there is none, e.g. off Linux).
func SampleCPU() CPUSample {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CPUSample{}
	}
	return parseCPU(string(data))
}

func parseCPU(stat string) CPUSample {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return CPUSample{}
	}
	var s CPUSample
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return CPUSample{}
		}
		d := time.Duration(n) * time.Second / userHZ
		s.Total += d
		if i != 3 && i != 4 { // idle, iowait
			s.Busy += d
		}
	}
	s.ok = true
	return s
}

// Since is how busy the machine was from start to s: busy CPU time and its share of the CPU
// time its cores had. "" when either sample is missing.
func (s CPUSample) Since(start CPUSample) string {
	if !s.ok || !start.ok || s.Total <= start.Total {
		return ""
	}
	busy, total := s.Busy-start.Busy, s.Total-start.Total
	return fmt.Sprintf("machine CPU busy %.0f s of %.0f s (%.0f %%)", busy.Seconds(), total.Seconds(), 100*busy.Seconds()/total.Seconds())
}
