package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lintRun runs `reachgate lint args…` and returns stdout, stderr and the exit code.
func lintRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCommand()
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"lint"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), exitCode(err)
}

const (
	seedFixtures     = "../../fixtures/seed"
	hardenedFixtures = "../../fixtures/hardened"
)

func TestLintExitCodes(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.conf")
	if err := os.WriteFile(broken, []byte("server {\n  listen 443\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(unknown, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // a substring of stdout
	}{
		{"seed fails at the default high", []string{seedFixtures}, 1, "rbac.sh:8: RG-RBAC-001 critical"},
		{"only critical fails: nginx.conf has none", []string{"--fail-on", "critical", seedFixtures + "/nginx.conf"}, 0, "nginx.conf:4: RG-NGINX-001 high"},
		{"medium fails with --fail-on medium", []string{"--fail-on", "medium", seedFixtures + "/service.yaml"}, 1, "service.yaml:6: RG-NET-002 medium"},
		{"medium passes at the default", []string{seedFixtures + "/service.yaml"}, 0, "RG-NET-002"},
		{"none never fails on findings", []string{"--fail-on", "none", seedFixtures}, 0, "RG-RBAC-001"},
		{"hardened is clean", []string{hardenedFixtures}, 0, ""},
		{"unparseable file", []string{broken}, 2, "broken.conf:3: error: nginx: unexpected \"}\""},
		{"unknown kind named explicitly", []string{unknown}, 2, "cannot tell what kind of file"},
		{"missing path", []string{filepath.Join(dir, "nope")}, 2, ""},
		{"bad severity", []string{"--fail-on", "severe", seedFixtures}, 2, ""},
		{"no arguments", nil, 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := lintRun(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("stdout does not contain %q:\n%s", tt.out, out)
			}
			if tt.name == "hardened is clean" && out != "" {
				t.Errorf("hardened printed findings:\n%s", out)
			}
		})
	}
}

func TestLintFormats(t *testing.T) {
	text, _, _ := lintRun(t, seedFixtures)
	nText := strings.Count(text, "\n")
	if nText < 20 {
		t.Fatalf("text report has %d findings; want the seed's 20+:\n%s", nText, text)
	}

	out, _, code := lintRun(t, "--format", "json", seedFixtures)
	var j struct {
		Findings []struct {
			ID, Severity, File, Fix string
			Line                    int
		}
		Errors []any
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != 1 {
		t.Fatalf("json: %v, exit %d", err, code)
	}
	if len(j.Findings) != nText || j.Findings[0].File == "" || j.Findings[0].Line == 0 || j.Findings[0].Fix == "" {
		t.Errorf("json has %d findings (text %d); first %+v", len(j.Findings), nText, j.Findings[0])
	}

	out, _, _ = lintRun(t, "--format", "sarif", seedFixtures)
	var s struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
						Region           struct{ StartLine int } `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("sarif: %v", err)
	}
	if s.Version != "2.1.0" || len(s.Runs) != 1 || len(s.Runs[0].Results) != nText {
		t.Fatalf("sarif version %q, %d runs, results %d; want 2.1.0, 1, %d", s.Version, len(s.Runs), len(s.Runs[0].Results), nText)
	}
	rules := s.Runs[0].Tool.Driver.Rules
	for _, r := range s.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		if rules[r.RuleIndex].ID != r.RuleID || loc.ArtifactLocation.URI == "" || loc.Region.StartLine == 0 || r.Level == "" {
			t.Errorf("sarif result %+v: rule index, location or level wrong", r)
		}
	}

	out, _, _ = lintRun(t, "--format", "junit", seedFixtures, hardenedFixtures)
	var ju struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(out), &ju); err != nil {
		t.Fatalf("junit: %v", err)
	}
	su := ju.Suites[0]
	passed := 0
	for _, c := range su.Cases {
		if c.Failure == nil {
			passed++
		}
	}
	// One failing testcase per seed finding, one passing testcase per clean hardened file.
	if su.Failures != nText || passed < 8 || su.Tests != len(su.Cases) {
		t.Errorf("junit: %d tests, %d failures, %d passing; want %d failures and a passing case per hardened file", su.Tests, su.Failures, passed, nText)
	}
}

func TestLintCatalog(t *testing.T) {
	out, _, code := lintRun(t, "--catalog")
	if code != 0 || !strings.Contains(out, "RG-RBAC-001 critical cluster-admin bound to a ServiceAccount") || !strings.Contains(out, "detectors: lint.shellClusterAdmin") {
		t.Errorf("catalog (exit %d):\n%s", code, out)
	}
}
