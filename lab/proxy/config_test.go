package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		file    string
		text    string
		want    Config // with Source and the file paths relative to the test's dir
		wantErr string // "" = valid; else the whole error after "proxy config DIR/"
	}{
		{
			name: "l7 yaml with defaults", file: "l7.yaml",
			text: "mode: l7\nlisten: \":443\"\nupstream: 192.168.32.34:443\ncertFile: tls/proxy.crt\nkeyFile: /etc/proxy/proxy.key\n" +
				"upstreamCAFile: ca.crt\nupstreamServerName: kubernetes.default\naccessLog: true\n",
			want: Config{Mode: "l7", Listen: ":443", Upstream: "192.168.32.34:443", CertFile: "tls/proxy.crt", KeyFile: "/etc/proxy/proxy.key",
				MinTLSVersion: "1.2", UpstreamCAFile: "ca.crt", UpstreamServerName: "kubernetes.default", ReadTimeout: "90s", AccessLog: true},
		},
		{
			name: "l7 json, unverified like the article", file: "l7.json",
			text: "{\n\t\"mode\": \"l7\", \"listen\": \"10.36.0.2:443\", \"upstream\": \"192.168.32.34:443\",\n\t\"certFile\": \"p.crt\", \"keyFile\": \"p.key\", \"minTLSVersion\": \"1.0\", \"readTimeout\": \"2m\"\n}\n",
			want: Config{Mode: "l7", Listen: "10.36.0.2:443", Upstream: "192.168.32.34:443", CertFile: "p.crt", KeyFile: "p.key",
				MinTLSVersion: "1.0", ReadTimeout: "2m"},
		},
		{
			name: "l4 yaml", file: "l4.yaml",
			text: "mode: l4\nlisten: \":443\"\nupstream: \"192.168.32.34:443\"\n",
			want: Config{Mode: "l4", Listen: ":443", Upstream: "192.168.32.34:443"},
		},
		{
			name: "unknown yaml field", file: "typo.yaml",
			text:    "mode: l7\nlisten: \":443\"\nupstream: 192.168.32.34:443\nupstreamCaFile: ca.crt\n",
			wantErr: `typo.yaml: line 4: unknown field "upstreamCaFile" (known fields: mode, listen, upstream, certFile, keyFile, minTLSVersion, upstreamCAFile, upstreamServerName, readTimeout, accessLog)`,
		},
		{
			name: "unknown json field", file: "typo.json",
			text:    `{"mode": "l4", "listen": ":443", "upstream": "192.168.32.34:443", "proxy_ssl_verify": "on"}`,
			wantErr: `typo.json: unknown field "proxy_ssl_verify" (known fields: mode, listen, upstream, certFile, keyFile, minTLSVersion, upstreamCAFile, upstreamServerName, readTimeout, accessLog)`,
		},
		{
			name: "bad mode", file: "mode.yaml",
			text:    "mode: l5\nlisten: \":443\"\nupstream: 192.168.32.34:443\n",
			wantErr: `mode.yaml: mode: "l5" is not l7 or l4`,
		},
		{
			name: "l7 without certificate", file: "nocert.yaml",
			text:    "mode: l7\nlisten: \":443\"\nupstream: 192.168.32.34:443\n",
			wantErr: "nocert.yaml: certFile: missing (l7 mode serves its own certificate)\nproxy config DIR/nocert.yaml: keyFile: missing (l7 mode serves its own certificate)",
		},
		{
			name: "bad duration", file: "timeout.yaml",
			text:    "mode: l7\nlisten: \":443\"\nupstream: 192.168.32.34:443\ncertFile: a\nkeyFile: b\nreadTimeout: \"90\"\n",
			wantErr: `timeout.yaml: readTimeout: "90" is not a Go duration like 90s`,
		},
		{
			name: "bad TLS version", file: "tls.yaml",
			text:    "mode: l7\nlisten: \":443\"\nupstream: 192.168.32.34:443\ncertFile: a\nkeyFile: b\nminTLSVersion: TLSv1.2\n",
			wantErr: `tls.yaml: minTLSVersion: "TLSv1.2" is not 1.0, 1.1, 1.2 or 1.3`,
		},
		{
			name: "upstream by name", file: "name.yaml",
			text:    "mode: l4\nlisten: \":443\"\nupstream: kubernetes.default:443\n",
			wantErr: `name.yaml: upstream: "kubernetes.default:443" is not IP:port: ParseAddr("kubernetes.default"): unexpected character (at "kubernetes.default")`,
		},
		{
			name: "listen without port", file: "listen.yaml",
			text:    "mode: l4\nlisten: 10.36.0.2\nupstream: 192.168.32.34:443\n",
			wantErr: `listen.yaml: listen: "10.36.0.2" is not host:port: address 10.36.0.2: missing port in address`,
		},
		{
			name: "tls setting in l4", file: "l4tls.yaml",
			text:    "mode: l4\nlisten: \":443\"\nupstream: 192.168.32.34:443\nupstreamCAFile: ca.crt\n",
			wantErr: `l4tls.yaml: upstreamCAFile: applies to mode l7 only (l4 passes TLS through untouched)`,
		},
		{
			name: "wrong type", file: "type.yaml",
			text:    "mode: l4\nlisten: \":443\"\nupstream: 192.168.32.34:443\naccessLog: often\n",
			wantErr: "type.yaml: line 4: cannot unmarshal !!str `often` into bool",
		},
		{
			name: "two documents", file: "two.yaml",
			text:    "mode: l4\n---\nmode: l7\n",
			wantErr: `two.yaml: line 2: a second YAML document (the file must hold one)`,
		},
		{
			name: "empty", file: "empty.yaml", text: "\n",
			wantErr: `empty.yaml: the file is empty`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, tc.file)
			if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadConfig(path)
			if tc.wantErr != "" {
				want := "proxy config " + path + ": " + strings.ReplaceAll(tc.wantErr, "DIR", dir)
				want = strings.Replace(want, "proxy config "+path+": "+tc.file+": ", "proxy config "+path+": ", 1)
				if err == nil || err.Error() != want {
					t.Fatalf("got error\n%v\nwant\n%s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			want.Source = path
			for _, f := range []*string{&want.CertFile, &want.KeyFile, &want.UpstreamCAFile} {
				if *f != "" && !filepath.IsAbs(*f) {
					*f = filepath.Join(dir, *f)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	t.Parallel()
	_, err := LoadConfig("testdata/no-such-proxy.yaml")
	if err == nil || !strings.Contains(err.Error(), "testdata/no-such-proxy.yaml") {
		t.Fatalf("got %v; want an error naming the file", err)
	}
}

func TestValidateWithoutSource(t *testing.T) {
	t.Parallel()
	err := Config{Mode: "l5", Listen: ":443", Upstream: "192.168.32.34:443"}.Validate()
	if want := `proxy config: mode: "l5" is not l7 or l4`; err == nil || err.Error() != want {
		t.Fatalf("got %v; want %s", err, want)
	}
}
