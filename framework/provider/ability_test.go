package provider

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// Every interface of the package other than the core ones is an ability and has a text.
func TestEveryAbilityHasText(t *testing.T) {
	core := map[string]bool{"Provider": true, "Environment": true, "Host": true, "Cloud": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for tp := range abilityTexts {
		named[tp.Name()] = true
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, s := range gd.Specs {
				ts, ok := s.(*ast.TypeSpec)
				if !ok {
					continue
				}
				if _, isIface := ts.Type.(*ast.InterfaceType); isIface && !core[ts.Name.Name] && !named[ts.Name.Name] {
					t.Errorf("ability %s has no text in abilityTexts", ts.Name.Name)
				}
			}
		}
	}
}

func TestAbilityText(t *testing.T) {
	got := AbilityText[Explainer]()
	want := "explain reachability from a network model (provider.Explainer is not implemented)"
	if got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if got := AbilityText[interface{ Nothing() }](); !strings.Contains(got, "is not implemented") {
		t.Errorf("unknown ability: got %q", got)
	}
	if n := len(abilityTexts); n < 12 {
		t.Errorf("got %d ability texts; want at least 12", n)
	}
}
