// Package httplog reads the HTTP log gcloud writes with --log-http and normalizes it into a
// stable text (a golden), so a change to the API surface reachgate and gcloud use — a new
// request, another method, a field more or less in a body — shows as a diff. Values that
// change from run to run (endpoint, project, operation names, ids, timestamps, secrets) are
// replaced by placeholders.
package httplog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Exchange is one request gcloud sent and the status it got.
type Exchange struct {
	Method, URI string
	Body        string // the request body, "" when empty
	Status      string
}

// Parse reads gcloud's --log-http output (stderr), ignoring everything outside its request
// and response blocks.
func Parse(log string) []Exchange {
	var out []Exchange
	var cur *Exchange
	section := ""
	var body strings.Builder
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		// gcloud's progress tracker ("Creating…....") shares stderr and may precede a line of
		// the log: read each line from its marker on.
		line := sc.Text()
		for _, m := range []string{"==== request start ====", "uri: ", "method: ", "---- response start ----", "status: "} {
			if i := strings.Index(line, m); i > 0 && section != "body" {
				line = line[i:]
			}
		}
		switch {
		case line == "==== request start ====":
			out = append(out, Exchange{})
			cur, section = &out[len(out)-1], "request"
		case cur == nil:
		case section == "request" && strings.HasPrefix(line, "uri: "):
			cur.URI = strings.TrimPrefix(line, "uri: ")
		case section == "request" && strings.HasPrefix(line, "method: "):
			cur.Method = strings.TrimPrefix(line, "method: ")
		case section == "request" && line == "== body start ==":
			section = "body"
			body.Reset()
		case section == "body" && line == "== body end ==":
			cur.Body, section = strings.TrimSpace(body.String()), "after"
		case section == "body":
			body.WriteString(line + "\n")
		case line == "---- response start ----":
			section = "response"
		case section == "response" && strings.HasPrefix(line, "status: "):
			cur.Status, section = strings.TrimPrefix(line, "status: "), "done"
		}
	}
	return out
}

// Vars are the run's values that the golden shows as placeholders: "{endpoint}" for the API's
// scheme and host, "{project}" for the project, and any others by name (e.g. a secret).
type Vars map[string]string

var (
	operationName = regexp.MustCompile(`operation-[0-9a-f][0-9a-f-]*`)
	timestamp     = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	// Keys whose values change from run to run: ids, fingerprints, hashes, secrets.
	volatile = map[string]string{"id": "{id}", "fingerprint": "{fingerprint}", "labelFingerprint": "{fingerprint}",
		"sharedSecret": "{secret}", "sharedSecretHash": "{hash}", "requestId": "{requestId}"}
)

// Normalize writes the exchanges as text: one "METHOD URI -> STATUS" line each, then the
// request body as indented JSON with sorted keys. Run values become placeholders; operation
// names are numbered in order of appearance. Reads of operations (gcloud's polls and waits)
// are left out: how often a client polls depends on how long the change took, not on the API.
func Normalize(exs []Exchange, vars Vars) string {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	// Longer values first, so one that contains another is replaced whole.
	sort.Slice(keys, func(i, j int) bool { return len(vars[keys[i]]) > len(vars[keys[j]]) })
	ops := map[string]string{}
	clean := func(s string) string {
		for _, k := range keys {
			if v := vars[k]; v != "" {
				s = strings.ReplaceAll(s, v, k)
			}
		}
		s = operationName.ReplaceAllStringFunc(s, func(m string) string {
			if _, ok := ops[m]; !ok {
				ops[m] = fmt.Sprintf("{operation-%d}", len(ops)+1)
			}
			return ops[m]
		})
		return timestamp.ReplaceAllString(s, "{timestamp}")
	}
	var b strings.Builder
	for _, e := range exs {
		if u := strings.SplitN(e.URI, "?", 2)[0]; strings.Contains(u, "/operations/") && (e.Method == "GET" || strings.HasSuffix(u, "/wait")) {
			continue
		}
		fmt.Fprintf(&b, "%s %s -> %s\n", e.Method, clean(e.URI), e.Status)
		if e.Body == "" {
			continue
		}
		var v any
		if err := json.Unmarshal([]byte(e.Body), &v); err != nil {
			fmt.Fprintf(&b, "  %s\n", clean(e.Body))
			continue
		}
		mask(v)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("  ", "  ")
		_ = enc.Encode(v) // maps encode with sorted keys
		b.WriteString("  " + clean(strings.TrimSpace(buf.String())) + "\n")
	}
	return b.String()
}

// mask replaces the values of volatile keys, at any depth.
func mask(v any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if p, ok := volatile[k]; ok {
				t[k] = p
				continue
			}
			mask(x)
		}
	case []any:
		for _, x := range t {
			mask(x)
		}
	}
}

// Diff is a line diff of want and got ("-" lines only in want, "+" only in got), or "" when
// they are equal. It aligns on the longest common subsequence of lines.
func Diff(want, got string) string {
	if want == got {
		return ""
	}
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			i, j = i+1, j+1
		case i < len(a) && (j == len(b) || lcs[i+1][j] >= lcs[i][j+1]):
			fmt.Fprintf(&out, "-%s\n", a[i])
			i++
		default:
			fmt.Fprintf(&out, "+%s\n", b[j])
			j++
		}
	}
	return out.String()
}
