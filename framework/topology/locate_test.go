package topology

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestLocatorLine(t *testing.T) {
	t.Parallel()
	src := `apiVersion: reachgate.dev/v1alpha1
metadata:
  name:
spec:
  vpcs:
    - name: hub
      subnets:
        - name: a
          cidr:
            10.0.0.0/24
  links:
    - name: l
      a: {vpc: hub, router: r}
`
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	loc := newLocator(&doc)
	tests := []struct {
		path string
		want int
	}{
		{"apiVersion", 1},
		{"metadata.name", 3},                  // empty value: its key's line
		{"metadata.description", 2},           // absent: the enclosing mapping's key
		{"spec.vpcs[0]", 6},                   // a sequence item: its first line
		{"spec.vpcs[0].name", 6},              // a value on its key's line
		{"spec.vpcs[0].subnets[0].cidr", 10},  // a value on the next line
		{"spec.vpcs[0].subnets[0].region", 8}, // absent in a sequence item: the item's line
		{"spec.vpcs[1].name", 5},              // absent item: the list's key
		{"spec.links[0].a.router", 13},        // flow mapping
		{"spec.links[0].b.vpc", 12},           // absent end of a link: the link
		{"kind", 1},                           // absent at the top: the document
	}
	for _, tt := range tests {
		if got := loc.line(tt.path); got != tt.want {
			t.Errorf("line(%q) = %d; want %d", tt.path, got, tt.want)
		}
	}
	if !loc.has("metadata.name") || loc.set("metadata.name") || !loc.set("apiVersion") || loc.has("kind") {
		t.Error("has/set disagree with the document")
	}
}

func TestLocatorTypes(t *testing.T) {
	t.Parallel()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("spec:\n  hosts:\n    - name: x\n      colour: red\n"), &doc); err != nil {
		t.Fatal(err)
	}
	loc := newLocator(&doc)
	tests := []struct {
		path, want string
	}{
		{"", "topology.File"},
		{"spec.hosts", "[]topology.Host"},
		{"spec.hosts[0]", "topology.Host"},
		{"spec.hosts[0].name", "string"},
		{"spec.hosts[0].colour", "<nil>"},
	}
	for _, tt := range tests {
		e := loc.byPath[tt.path]
		got := "<nil>"
		if e.typ != nil {
			got = e.typ.String()
		}
		if got != tt.want {
			t.Errorf("type at %q = %s; want %s", tt.path, got, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	t.Parallel()
	for path, want := range map[string]string{
		"spec.vpcs[1].subnets[0].cidr": "spec.vpcs[1].subnets[0]",
		"spec.vpcs[1].subnets[0]":      "spec.vpcs[1].subnets",
		"spec":                         "",
		"":                             "",
	} {
		if got := parentPath(path); got != want {
			t.Errorf("parentPath(%q) = %q; want %q", path, got, want)
		}
	}
}
