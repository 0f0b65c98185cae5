package nginxconf

import (
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// flat renders directives as "file:line name [args]" lines, nesting shown by indentation.
func flat(ds []*Directive, indent string) []string {
	var out []string
	for _, d := range ds {
		var args []string
		for _, a := range d.Args {
			if a.Quoted {
				args = append(args, fmt.Sprintf("%q", a.Value))
			} else {
				args = append(args, a.Value)
			}
		}
		out = append(out, fmt.Sprintf("%s%s:%d %s %s", indent, d.File, d.Line, d.Name, strings.Join(args, " ")))
		if d.IsBlock {
			out = append(out, flat(d.Block, indent+"  ")...)
		}
	}
	return out
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{"simple and block", "worker_processes 2;\nhttp {\n  server { listen 443 ssl; }\n}\n", []string{
			"f:1 worker_processes 2", "f:2 http ", "  f:3 server ", "    f:3 listen 443 ssl"}},
		{"double quotes with escapes", `add_header X "a \"b\" c\\d\te";`, []string{"f:1 add_header X \"a \\\"b\\\" c\\\\d\\te\""}},
		{"single quotes keep semicolons and braces", `log_format main '{ "x": $x; }';`, []string{`f:1 log_format main "{ \"x\": $x; }"`}},
		{"quoted string across lines", "return 200 \"a\nb\";\nx y;", []string{`f:1 return 200 "a\nb"`, "f:3 x y"}},
		{"comments and hash inside a word", "# top\nlisten 443; # trailing\nset $a b#c;\n", []string{"f:2 listen 443", "f:3 set $a b#c"}},
		{"unquoted escape protects ; and keeps the backslash, as nginx", `set $a x\;y;`, []string{`f:1 set $a x\;y`}},
		{"braced variable in a word", "proxy_pass https://${api_server_ip}; server_name ${static_ip};", []string{
			"f:1 proxy_pass https://${api_server_ip}", "f:1 server_name ${static_ip}"}},
		{"empty block", "events {}\n", []string{"f:1 events "}},
		{"many on one line", "a 1; b 2; c { d; }", []string{"f:1 a 1", "f:1 b 2", "f:1 c ", "  f:1 d "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Parse("f", []byte(tt.src), Options{NoIncludes: true})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got := flat(cfg.Directives, "")
			for i := range got {
				got[i] = strings.TrimRight(got[i], " ")
			}
			for i := range tt.want {
				tt.want[i] = strings.TrimRight(tt.want[i], " ")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("directives (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmptyBlockIsBlock(t *testing.T) {
	t.Parallel()
	cfg, err := Parse("f", []byte("events {}\nuser x;"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Directives[0].IsBlock || cfg.Directives[1].IsBlock {
		t.Errorf("IsBlock = %v, %v; want true, false", cfg.Directives[0].IsBlock, cfg.Directives[1].IsBlock)
	}
}

func TestVariables(t *testing.T) {
	t.Parallel()
	a := Arg{Value: "$scheme://${host}:$server_port/x$"}
	if diff := cmp.Diff([]string{"scheme", "host", "server_port"}, a.Variables()); diff != "" {
		t.Errorf("Variables (-want +got):\n%s", diff)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"missing semicolon at eof", "a 1;\nb 2", 2, `unexpected end of file, expecting ";" or "}"`},
		{"missing semicolon before brace", "http {\n  listen 443\n}\n", 3, `unexpected "}", expecting ";" or "}"`},
		{"unclosed block", "http {\n server {\n }\n", 4, `unexpected end of file, expecting "}" (the "http" block opened at line 1`},
		{"stray close", "a;\n}\n", 2, `unexpected "}"`},
		{"stray semicolon", "a;\n;\n", 2, `unexpected ";"`},
		{"block without name", "{ a; }", 1, `unexpected "{"`},
		{"unclosed quote", "a \"b;\nc;\n", 1, `is never closed`},
		{"text after quote", "a \"b\"c;", 1, `after the closing "`},
		{"unclosed variable", "a ${b;\n", 1, `is not closed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.conf", []byte(tt.src), Options{})
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Parse error = %v (%T); want *Error", err, err)
			}
			if e.Line != tt.line || !strings.Contains(e.Msg, tt.msg) || e.File != "f.conf" {
				t.Errorf("error = %v; want f.conf:%d: …%s…", e, tt.line, tt.msg)
			}
		})
	}
}

func TestIncludes(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"etc/nginx/nginx.conf":        {Data: []byte("events {}\nhttp {\n  include conf.d/*.conf;\n  include mime.types;\n}\n")},
		"etc/nginx/mime.types":        {Data: []byte("types { text/html html; }\n")},
		"etc/nginx/conf.d/a.conf":     {Data: []byte("server {\n  listen 80;\n  include snippets/x.inc;\n}\n")},
		"etc/nginx/conf.d/b.conf":     {Data: []byte("\n\nserver { listen 81; }\n")},
		"etc/nginx/snippets/x.inc":    {Data: []byte("return 204;\n")},
		"etc/nginx/conf.d/snippets/x": {Data: []byte("wrong;\n")},
	}
	// Relative to the prefix, as nginx does.
	cfg, err := ParseFile("etc/nginx/nginx.conf", Options{FS: fsys, Prefix: "etc/nginx"})
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	want := []string{
		"etc/nginx/nginx.conf:1 events",
		"etc/nginx/nginx.conf:2 http",
		"  etc/nginx/conf.d/a.conf:1 server",
		"    etc/nginx/conf.d/a.conf:2 listen 80",
		"    etc/nginx/snippets/x.inc:1 return 204",
		"  etc/nginx/conf.d/b.conf:3 server",
		"    etc/nginx/conf.d/b.conf:3 listen 81",
		"  etc/nginx/mime.types:1 types",
		"    etc/nginx/mime.types:1 text/html html",
	}
	got := flat(cfg.Directives, "")
	for i := range got {
		got[i] = strings.TrimRight(got[i], " ")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("directives (-want +got):\n%s", diff)
	}
	if n := len(cfg.Files); n != 5 {
		t.Errorf("files read = %v; want 5", cfg.Files)
	}
	var from string
	cfg.Walk(func(d *Directive, parents []*Directive) {
		if d.Name == "return" {
			from = d.From.Pos()
			if len(parents) != 2 || parents[0].Name != "http" || parents[1].Name != "server" {
				t.Errorf("parents of return = %d; want http, server", len(parents))
			}
		}
	})
	if from != "etc/nginx/conf.d/a.conf:3" {
		t.Errorf("return included from %q; want etc/nginx/conf.d/a.conf:3", from)
	}

	// Relative to the including file when there is no prefix.
	fsys["etc/nginx/conf.d/snippets/x.inc"] = &fstest.MapFile{Data: []byte("return 418;\n")}
	cfg, err = ParseFile("etc/nginx/conf.d/a.conf", Options{FS: fsys})
	if err != nil {
		t.Fatalf("ParseFile without prefix: %v", err)
	}
	if got := cfg.Directives[0].Block[1]; got.Arg(0) != "418" || got.File != "etc/nginx/conf.d/snippets/x.inc" {
		t.Errorf("included directive = %s %v; want return 418 from conf.d/snippets/x.inc", got.Pos(), got.Args)
	}
}

func TestIncludeErrors(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"main.conf":  {Data: []byte("http {\n  include missing.conf;\n}\n")},
		"glob.conf":  {Data: []byte("include none/*.conf;\nuser x;\n")},
		"loop.conf":  {Data: []byte("\ninclude loop2.conf;\n")},
		"loop2.conf": {Data: []byte("include loop.conf;\n")},
		"bad.conf":   {Data: []byte("include inner.conf;\n")},
		"inner.conf": {Data: []byte("a {\n")},
		"args.conf":  {Data: []byte("include a b;\n")},
	}
	tests := []struct {
		file, wantPos, msg string
	}{
		{"main.conf", "main.conf:2", "no such file"},
		{"loop.conf", "loop2.conf:1", "include cycle"},
		{"bad.conf", "inner.conf:2", "unexpected end of file"},
		{"args.conf", "args.conf:1", "one file or glob"},
	}
	for _, tt := range tests {
		_, err := ParseFile(tt.file, Options{FS: fsys})
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%s: error = %v; want *Error", tt.file, err)
			continue
		}
		if pos := fmt.Sprintf("%s:%d", e.File, e.Line); pos != tt.wantPos || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("%s: error = %v; want %s: …%s…", tt.file, e, tt.wantPos, tt.msg)
		}
	}
	// A glob that matches nothing is fine, as in nginx.
	cfg, err := ParseFile("glob.conf", Options{FS: fsys})
	if err != nil || len(cfg.Directives) != 1 {
		t.Errorf("glob matching nothing: %v, %d directives; want nil, 1", err, len(cfg.Directives))
	}
}
