package lint

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"reachgate/framework/findings"
)

func seed(name string) string     { return filepath.Join(seedDir, name) }
func hardened(name string) string { return filepath.Join(hardenedDir, name) }
func td(name string) string       { return filepath.Join("testdata", name) }

// pscFixture is the shipped Private Service Connect topology: its interconnect lands in
// us-east4, the endpoint is in us-central1, global access is off.
const pscFixture = "../../fixtures/topologies/psc.yaml"

// runDetector runs one named detector over files (all of the detector's kind).
func runDetector(t *testing.T, name string, files []string) []findings.Finding {
	t.Helper()
	var out []findings.Finding
	var docs []*doc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case nginxDetectors[name] != nil:
			cfg, ierr := parseNginx(f, data, Options{})
			if ierr != nil {
				t.Fatal(ierr)
			}
			out = append(out, nginxDetectors[name](cfg)...)
		case shellDetectors[name] != nil:
			out = append(out, shellDetectors[name](parseShell(f, data))...)
		case kubeconfigDetectors[name] != nil:
			out = append(out, kubeconfigDetectors[name](parseKubeconfig(f, data))...)
		case topologyDetectors[name] != nil:
			tf, ierr := parseTopology(f, data)
			if ierr != nil {
				t.Fatal(ierr)
			}
			out = append(out, topologyDetectors[name](tf)...)
		case manifestDetectors[name] != nil:
			ds, ierr := parseManifests(f, data)
			if ierr != nil {
				t.Fatal(ierr)
			}
			docs = append(docs, ds...)
		default:
			t.Fatalf("no detector %q", name)
		}
	}
	if manifestDetectors[name] != nil {
		out = manifestDetectors[name](docs)
	}
	return out
}

// detectorCases: for every static detector, the seed artifact it must fire on (at the line
// given) and the hardened artifact it must stay silent on.
var detectorCases = []struct {
	detector string
	id       string
	seed     []string
	wantAt   []string // file:line of each finding on seed
	hardened []string
}{
	{"lint.nginxSSLOn", "RG-NGINX-001", []string{seed("nginx.conf"), seed("default.conf")}, []string{"nginx.conf:4", "default.conf:4"}, []string{hardened("nginx.conf")}},
	{"lint.nginxTLSVersions", "RG-TLS-001", []string{seed("nginx.conf")}, []string{"nginx.conf:4"}, []string{hardened("nginx.conf")}},
	{"lint.nginxUpstreamVerify", "RG-TLS-003", []string{seed("nginx.conf"), seed("default.conf")}, []string{"nginx.conf:9", "default.conf:9"}, []string{hardened("nginx.conf")}},
	{"lint.nginxUpgrade", "RG-NGINX-002", []string{seed("nginx.conf")}, []string{"nginx.conf:9"}, []string{hardened("nginx.conf")}},
	{"lint.shellClusterAdmin", "RG-RBAC-001", []string{seed("rbac.sh")}, []string{"rbac.sh:8"}, []string{hardened("rbac.sh")}},
	{"lint.shellMissingRole", "RG-RBAC-002", []string{seed("rbac.sh")}, []string{"rbac.sh:7"}, []string{hardened("rbac.sh")}},
	{"lint.shellSecretsIndex", "RG-TOKEN-001", []string{seed("rbac.sh")}, []string{"rbac.sh:10"}, []string{hardened("rbac.sh")}},
	{"lint.shellLegacyToken", "RG-TOKEN-002", []string{seed("rbac.sh")}, []string{"rbac.sh:12"}, []string{hardened("rbac.sh")}},
	{"lint.shellPatchKubernetes", "RG-SVC-001", []string{seed("expose-apiserver.sh")}, []string{"expose-apiserver.sh:3"}, []string{hardened("rbac.sh"), hardened("openssl.sh")}},
	{"lint.shellSelfSigned", "RG-TLS-002", []string{seed("openssl.sh")}, []string{"openssl.sh:3", "openssl.sh:7"}, []string{hardened("openssl.sh")}},
	{"lint.shellCertSAN", "RG-TLS-004", []string{seed("openssl.sh")}, []string{"openssl.sh:3", "openssl.sh:7"}, []string{hardened("openssl.sh")}},
	{"lint.shellKeyBundle", "RG-TLS-005", []string{seed("openssl.sh")}, []string{"openssl.sh:4", "openssl.sh:8"}, []string{hardened("openssl.sh")}},
	{"lint.manifestClusterAdmin", "RG-RBAC-001", []string{td("seed-rbac.yaml")}, []string{"seed-rbac.yaml:36"}, []string{hardened("rbac.yaml")}},
	{"lint.manifestMissingRole", "RG-RBAC-002", []string{td("seed-rbac.yaml")}, []string{"seed-rbac.yaml:23"}, []string{hardened("rbac.yaml")}},
	{"lint.manifestLegacyToken", "RG-TOKEN-002", []string{td("legacy-token-secret.yaml")}, []string{"legacy-token-secret.yaml:8"}, []string{hardened("rbac.yaml")}},
	{"lint.manifestKubernetesLB", "RG-SVC-001", []string{seed("expose-apiserver.yaml")}, []string{"expose-apiserver.yaml:12"}, []string{hardened("service.yaml")}},
	{"lint.manifestGlobalAccess", "RG-NET-002", []string{seed("service.yaml"), seed("service-manual.yaml")}, []string{"service.yaml:6", "service-manual.yaml:6"}, []string{hardened("service.yaml")}},
	{"lint.manifestRWOReplicas", "RG-K8S-001", []string{seed("pvc.yaml"), seed("deployment-manual.yaml")}, []string{"deployment-manual.yaml:18"}, []string{hardened("deployment.yaml")}},
	{"lint.kubeconfigParse", "RG-KCFG-001", []string{seed("kubeconfig.tmpl")}, []string{"kubeconfig.tmpl:6"}, []string{hardened("kubeconfig")}},
	{"lint.kubeconfigInsecure", "RG-KCFG-002", []string{td("legacy.kubeconfig")}, []string{"legacy.kubeconfig:8"}, []string{hardened("kubeconfig")}},
	{"lint.kubeconfigTokenExpiry", "RG-TOKEN-002", []string{td("legacy.kubeconfig")}, []string{"legacy.kubeconfig:20"}, []string{hardened("kubeconfig")}},
	{"lint.topologyPeeringImport", "RG-PEER-001", []string{seed("bgp-export.topology.yaml")}, []string{"bgp-export.topology.yaml:68"}, []string{hardened("bgp-export.topology.yaml")}},
	{"lint.topologyPSAExport", "RG-PEER-002", []string{td("psa-half-fix.topology.yaml")}, []string{"psa-half-fix.topology.yaml:41", "psa-half-fix.topology.yaml:113"},
		[]string{td("psa-fixed.topology.yaml"), psaFixture, hardened("bgp-export.topology.yaml")}},
	{"lint.topologyPSCGlobalAccess", "RG-NET-003", []string{pscFixture}, []string{"psc.yaml:103"}, []string{td("psc-global.topology.yaml"), psaFixture}},
	{"lint.topologyDNSEndpointRange", "RG-NET-004", []string{td("dns-open.topology.yaml")}, []string{"dns-open.topology.yaml:103"},
		[]string{td("dns-announced.topology.yaml"), pscFixture}},
	{"lint.topologyCrossRegion", "RG-NET-001", []string{td("cross-region.topology.yaml")}, []string{"cross-region.topology.yaml:63"}, []string{td("cross-region-global.topology.yaml"), hardened("bgp-export.topology.yaml")}},
}

func TestDetectorsFireOnSeedNotOnHardened(t *testing.T) {
	t.Parallel()
	for _, tc := range detectorCases {
		t.Run(tc.detector, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, f := range runDetector(t, tc.detector, tc.seed) {
				if f.ID != tc.id {
					t.Errorf("%s reported %s; want only %s", tc.detector, f.ID, tc.id)
				}
				if f.Evidence.Text == "" || f.Message == "" {
					t.Errorf("finding %v has no evidence text or message", f)
				}
				got = append(got, fmt.Sprintf("%s:%d", filepath.Base(f.Evidence.File), f.Evidence.Line))
			}
			sort.Strings(got)
			want := append([]string(nil), tc.wantAt...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s on the seed artifacts (-want +got):\n%s", tc.detector, diff)
			}
			if fs := runDetector(t, tc.detector, tc.hardened); len(fs) != 0 {
				t.Errorf("%s on the hardened artifacts reported %v; want nothing", tc.detector, fs)
			}
		})
	}
}

// TestEveryDetectorIsCatalogedAndTested ties the registries, the catalog and the cases
// above together, so a detector cannot be dropped or added silently.
func TestEveryDetectorIsCatalogedAndTested(t *testing.T) {
	t.Parallel()
	registered := map[string]bool{}
	for _, m := range []map[string]bool{keys(nginxDetectors), keys(shellDetectors), keys(manifestDetectors), keys(kubeconfigDetectors), keys(topologyDetectors)} {
		for k := range m {
			registered[k] = true
		}
	}
	cataloged := map[string]bool{}
	for _, e := range findings.Catalog() {
		for _, d := range e.Detectors {
			if strings.HasPrefix(d, "lint.") {
				cataloged[d] = true
			}
		}
	}
	tested := map[string]bool{}
	for _, tc := range detectorCases {
		tested[tc.detector] = true
		e, _ := findings.Lookup(tc.id)
		found := false
		for _, d := range e.Detectors {
			found = found || d == tc.detector
		}
		if !found {
			t.Errorf("catalog entry %s does not name detector %s", tc.id, tc.detector)
		}
	}
	if diff := cmp.Diff(registered, cataloged); diff != "" {
		t.Errorf("registered detectors vs the catalog's lint.* detectors (-registered +catalog):\n%s", diff)
	}
	if diff := cmp.Diff(registered, tested); diff != "" {
		t.Errorf("registered detectors vs the tested ones (-registered +tested):\n%s", diff)
	}
}

func keys[V any](m map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// TestLintSeedGolden: `reachgate lint fixtures/seed/` reports every static finding of the
// article's artifacts at its file and line.
func TestLintSeedGolden(t *testing.T) {
	t.Parallel()
	res, err := Paths([]string{seedDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := res.Errors(); len(errs) != 0 {
		t.Fatalf("input errors: %v", errs)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, res, "text"); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(b.String(), "../../", "")
	golden := td("seed.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("lint fixtures/seed (-golden +got):\n%s", diff)
	}
}

func TestLintHardenedIsClean(t *testing.T) {
	t.Parallel()
	res, err := Paths([]string{hardenedDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := res.Errors(); len(errs) != 0 {
		t.Errorf("input errors: %v", errs)
	}
	if fs := res.Findings(); len(fs) != 0 {
		t.Errorf("hardened fixtures have findings: %v", fs)
	}
	kinds := map[Kind]int{}
	for _, f := range res.Files {
		kinds[f.Kind]++
	}
	for _, k := range []Kind{KindNginx, KindShell, KindKubeconfig, KindManifest, KindTopology} {
		if kinds[k] == 0 {
			t.Errorf("no hardened file of kind %s was linted (files: %v)", k, res.Files)
		}
	}
}

func TestInputErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, src string
		want            string
	}{
		{"nginx", "bad.conf", "server {\n listen 443\n}\n", "bad.conf:3: nginx: unexpected \"}\""},
		{"manifest", "bad.yaml", "kind: Service\nmetadata:\n\tname: x\n", "bad.yaml:3: invalid YAML"},
		{"manifest schema", "bad2.yaml", "kind: Service\nspec:\n  ports: 443\n", "bad2.yaml:1: Service does not match the Kubernetes schema"},
		{"topology", "t.yaml", "apiVersion: reachgate.dev/v1alpha1\nkind: Topology\nmetadata:\n  name: x\nspec:\n  vpcs: 3\n", "t.yaml:6: topology: spec.vpcs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := Inputs([]Input{{File: tt.file, Data: []byte(tt.src)}}, Options{})
			errs := res.Errors()
			if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), tt.want) {
				t.Errorf("errors = %v; want one starting %q", errs, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		want       Kind
	}{
		{"nginx.conf", "", KindNginx},
		{"x/default.conf", "", KindNginx},
		{"nginx/hardened.conf.tmpl", "", KindNginx},
		{"kubeconfig.tmpl", "", KindKubeconfig},
		{"my-ksa.kubeconfig", "", KindKubeconfig},
		{"admin.yaml", "apiVersion: v1\nkind: Config\n", KindKubeconfig},
		{"svc.yaml", "apiVersion: v1\nkind: Service\n", KindManifest},
		{"seed.yaml", "apiVersion: reachgate.dev/v1alpha1\nkind: Topology\n", KindTopology},
		{"run.sh", "", KindShell},
		{"run", "#!/bin/bash\n", KindShell},
		{"README.md", "", KindUnknown},
	}
	for _, tt := range tests {
		if got := Classify(tt.name, []byte(tt.data)); got != tt.want {
			t.Errorf("Classify(%q) = %q; want %q", tt.name, got, tt.want)
		}
	}
}

// nginx2000 is a generated configuration of about 2,000 lines: many servers, each with TLS
// settings and several proxied locations, some with quoted and variable arguments.
func nginx2000() []byte {
	var b strings.Builder
	b.WriteString("map $http_upgrade $connection_upgrade {\n    default upgrade;\n    ''      '';\n}\n")
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < 1990; i++ {
		fmt.Fprintf(&b, "server {\n    listen %d ssl;\n    server_name s%d.example \"alt-%d.example\";\n", 8000+i, i, i)
		b.WriteString("    ssl_certificate /etc/nginx/cert/tls.crt;\n    ssl_certificate_key /etc/nginx/cert/tls.key;\n    ssl_protocols TLSv1.2 TLSv1.3;\n")
		b.WriteString("    # proxied paths\n    log_format f" + fmt.Sprint(i) + " '$remote_addr - $request \"$status\"';\n")
		for j := 0; j < 4; j++ {
			fmt.Fprintf(&b, "    location /p%d/ {\n        proxy_pass https://10.0.%d.%d:443;\n        proxy_ssl_verify on;\n", j, i%250, j+1)
			b.WriteString("        proxy_http_version 1.1;\n        proxy_set_header Upgrade $http_upgrade;\n        proxy_set_header Connection $connection_upgrade;\n        proxy_read_timeout 90;\n    }\n")
		}
		b.WriteString("}\n")
	}
	return []byte(b.String())
}

func BenchmarkLintNginx2000(b *testing.B) {
	src := nginx2000()
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		res := Inputs([]Input{{File: "gen.conf", Kind: KindNginx, Data: src}}, Options{})
		if len(res.Errors()) != 0 || len(res.Findings()) != 0 {
			b.Fatalf("errors %v, findings %v", res.Errors(), res.Findings())
		}
	}
}

// TestLintNginx2000Time logs how long a 2,000-line configuration takes (acceptance: well
// under 100 ms); it asserts what was linted, not the time.
func TestLintNginx2000Time(t *testing.T) {
	src := nginx2000()
	lines := bytes.Count(src, []byte("\n"))
	if lines < 1990 {
		t.Fatalf("generated %d lines; want about 2000", lines)
	}
	start := time.Now()
	res := Inputs([]Input{{File: "gen.conf", Kind: KindNginx, Data: src}}, Options{})
	elapsed := time.Since(start)
	if len(res.Errors()) != 0 || len(res.Findings()) != 0 {
		t.Fatalf("errors %v, findings %v; want none", res.Errors(), res.Findings())
	}
	// The same file with one server weakened reports exactly that.
	weak := bytes.Replace(src, []byte("proxy_ssl_verify on;"), []byte("proxy_ssl_verify off;"), 1)
	if fs := Inputs([]Input{{File: "gen.conf", Kind: KindNginx, Data: weak}}, Options{}).Findings(); len(fs) != 1 || fs[0].ID != "RG-TLS-003" {
		t.Errorf("weakened config: findings %v; want one RG-TLS-003", fs)
	}
	t.Logf("linted %d lines of nginx configuration in %v", lines, elapsed)
}
