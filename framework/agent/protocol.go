// Package agent is reachgate's agent on a VM, and its protocol: how the harness runs a
// command at a host that has no SSH, no public address and no firewall hole. A job arrives as
// an instance metadata item (reachgate-job-<id>: JSON {argv, timeoutSec}); the agent, long-
// polling its metadata server, runs it and writes the result as guest attributes in namespace
// "reachgate": the JSON result in chunks <id>-0 … <id>-(n-1), then <id> = n, so a reader that
// sees <id> sees every chunk. When the job's item is removed the agent removes its result. At
// start the agent writes reachgate/ready = its PID and start time.
//
// The startup script (StartupScript) fetches the agent and starts it; the same script and
// protocol run on GCP and in the lab.
package agent

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

//go:embed startup.sh
var StartupScript string

// Metadata keys and the guest attribute namespace of the protocol.
const (
	JobPrefix      = "reachgate-job-"
	URLKey         = "reachgate-agent-url"
	SHA256Key      = "reachgate-agent-sha256"
	GuestNamespace = "reachgate"
	ReadyKey       = "ready"
	// ChunkSize bounds one guest attribute value (the lab allows 100 KiB).
	ChunkSize = 32 << 10
)

// IDPattern is what a job ID may be (it is part of a metadata key).
var IDPattern = regexp.MustCompile(`^[a-z0-9]{1,40}$`)

// Job is one command to run at the VM. Argv[0] "reachgate" is the agent's own binary
// (kubectl is `reachgate kubectl`), and the agent's directory leads the command's PATH, so a
// shell command finds reachgate too.
type Job struct {
	Argv       []string `json:"argv"`
	TimeoutSec int      `json:"timeoutSec,omitempty"`
	// Stdin is the command's standard input (a metadata value holds at most 256 KiB).
	Stdin []byte `json:"stdin,omitempty"`
}

// Result is what became of a job.
type Result struct {
	Exit   int    `json:"exit"`
	Stdout []byte `json:"stdout,omitempty"`
	Stderr []byte `json:"stderr,omitempty"`
	// Error is why the command did not run or was stopped ("" when it ran to its end).
	Error string `json:"error,omitempty"`
}

// Chunks is a result as guest attribute values: the chunks, then the count.
func (r Result) Chunks() ([]string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	s := string(b)
	var out []string
	for len(s) > ChunkSize {
		out = append(out, s[:ChunkSize])
		s = s[ChunkSize:]
	}
	return append(out, s), nil
}

// Assemble reads the result of job id from the guest attributes of namespace "reachgate"
// (key → value); false when it is not complete yet.
func Assemble(attrs map[string]string, id string) (Result, bool, error) {
	nstr, ok := attrs[id]
	if !ok {
		return Result{}, false, nil
	}
	n, err := strconv.Atoi(nstr)
	if err != nil || n < 1 {
		return Result{}, false, fmt.Errorf("agent: result %s: chunk count %q", id, nstr)
	}
	var b strings.Builder
	for i := range n {
		c, ok := attrs[fmt.Sprintf("%s-%d", id, i)]
		if !ok {
			return Result{}, false, fmt.Errorf("agent: result %s: chunk %d of %d missing", id, i, n)
		}
		b.WriteString(c)
	}
	var r Result
	if err := json.Unmarshal([]byte(b.String()), &r); err != nil {
		return Result{}, false, fmt.Errorf("agent: result %s: %w", id, err)
	}
	return r, true, nil
}
