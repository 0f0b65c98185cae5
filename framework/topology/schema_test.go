package topology

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const schemaPath = "../../fixtures/topologies/topology.schema.json"

// schemaNode is a JSON Schema object, as decoded.
type schemaNode = map[string]any

func loadSchema(t *testing.T) schemaNode {
	t.Helper()
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var s schemaNode
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	return s
}

// deref follows a local "$ref": "#/$defs/Name".
func deref(root, s schemaNode) schemaNode {
	for {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		def, _ := root["$defs"].(schemaNode)[strings.TrimPrefix(ref, "#/$defs/")].(schemaNode)
		if def == nil {
			return schemaNode{"$unresolved": ref}
		}
		s = def
	}
}

// TestSchemaMatchesTypes keeps topology.schema.json in step with the file
// types: the same fields (by json tag) with matching JSON types, recursively;
// no other properties anywhere; a description on every field.
func TestSchemaMatchesTypes(t *testing.T) {
	t.Parallel()
	root := loadSchema(t)
	if got, want := root["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
		t.Errorf("got $schema %v; want %s", got, want)
	}
	compareType(t, root, root, fileType, "File")
}

func compareType(t *testing.T, root, s schemaNode, typ reflect.Type, path string) {
	t.Helper()
	s = deref(root, s)
	if u, ok := s["$unresolved"]; ok {
		t.Errorf("%s: $ref %v does not resolve", path, u)
		return
	}
	if _, ok := s["description"].(string); !ok && path != "File" {
		t.Errorf("%s: no description", path)
	}
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want := map[reflect.Kind]string{reflect.String: "string", reflect.Bool: "boolean", reflect.Uint32: "integer", reflect.Int: "integer", reflect.Float64: "number", reflect.Slice: "array", reflect.Struct: "object"}[typ.Kind()]
	if want == "" {
		t.Fatalf("%s: no JSON type for Go kind %s (extend the test)", path, typ.Kind())
	}
	if s["type"] != want {
		t.Errorf("%s: got type %v; want %s (Go %s)", path, s["type"], want, typ)
	}
	switch typ.Kind() {
	case reflect.Slice:
		items, _ := s["items"].(schemaNode)
		if items == nil {
			t.Errorf("%s: array without items", path)
			return
		}
		compareType(t, root, items, typ.Elem(), path+"[]")
	case reflect.Struct:
		if s["additionalProperties"] != false {
			t.Errorf("%s: additionalProperties is %v; want false", path, s["additionalProperties"])
		}
		props, _ := s["properties"].(schemaNode)
		var fields []string
		for i := range typ.NumField() {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
			p, ok := props[name].(schemaNode)
			if !ok {
				t.Errorf("%s: field %s (Go %s.%s) has no schema property", path, name, typ.Name(), typ.Field(i).Name)
				continue
			}
			compareType(t, root, p, typ.Field(i).Type, path+"."+name)
		}
		for name := range props {
			if !slices.Contains(fields, name) {
				t.Errorf("%s: schema property %s is no field of Go %s", path, name, typ)
			}
		}
		req, _ := s["required"].([]any)
		for _, r := range req {
			if !slices.Contains(fields, r.(string)) {
				t.Errorf("%s: required %v is no field of Go %s", path, r, typ)
			}
		}
	}
}

// TestSchemaValidates checks the schema against the example files: every valid
// file passes, and files broken in a way a schema can see fail.
func TestSchemaValidates(t *testing.T) {
	t.Parallel()
	root := loadSchema(t)
	tests := []struct {
		file string
		ok   bool
	}{
		{seedPath, true},
		{"testdata/valid/minimal.yaml", true},
		{"testdata/valid/vpn-defaults.yaml", true},
		{"testdata/valid/cluster-defaults.yaml", true},
		{"testdata/valid/psa.yaml", true},
		{"../../fixtures/topologies/bgp-export-psa.yaml", true},
		{"../../fixtures/topologies/alt-bgp-export-psa.yaml", true},
		{"../../fixtures/topologies/psc.yaml", true},
		{"../../fixtures/topologies/alt-psc.yaml", true},
		{"testdata/valid/psc.yaml", true},
		{"testdata/invalid/unknown-field.yaml", false},
		{"testdata/invalid/unknown-top-field.yaml", false},
		{"testdata/invalid/bad-api-version.yaml", false},
		{"testdata/invalid/bad-kind.yaml", false},
		{"testdata/invalid/bad-cidr.yaml", false},
		{"testdata/invalid/ipv6-cidr.yaml", false},
		{"testdata/invalid/host-ip-invalid.yaml", false},
		{"testdata/invalid/bad-role.yaml", false},
		{"testdata/invalid/bad-link-type.yaml", false},
		{"testdata/invalid/bad-cloud.yaml", false},
		{"testdata/invalid/bad-routing-mode.yaml", false},
		{"testdata/invalid/bad-group.yaml", false},
		{"testdata/invalid/public-asn.yaml", false},
		{"testdata/invalid/wrong-type-asn.yaml", false},
		{"testdata/invalid/wrong-type-list.yaml", false},
		{"testdata/invalid/long-metadata-name.yaml", false},
		{"testdata/invalid/missing-link-type.yaml", false},
		{"testdata/invalid/master-cidr-not-28.yaml", false},
		{"testdata/invalid/bad-k8s-version.yaml", false},
		{"testdata/invalid/no-subnets.yaml", false},
		{"testdata/invalid/bad-managed-by.yaml", false},
		{"testdata/invalid/psa-allocated-too-small.yaml", false},
		{"testdata/invalid/psa-allocated-too-large.yaml", false},
		{"testdata/invalid/psa-allocated-bad-name.yaml", false},
		{"testdata/invalid/psa-service-bad-kind.yaml", false},
		{"testdata/invalid/psa-service-missing-kind.yaml", false},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var doc any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			problems := validateSchema(root, root, doc, "")
			if tt.ok && len(problems) > 0 {
				t.Errorf("got schema problems %q; want none", problems)
			}
			if !tt.ok && len(problems) == 0 {
				t.Error("the schema accepts it; want a problem")
			}
		})
	}
}

// validateSchema is just enough of JSON Schema for topology.schema.json: type,
// const, enum, pattern, maxLength, minimum, maximum, anyOf, properties,
// required, additionalProperties false, items, minItems and local $ref.
func validateSchema(root, s schemaNode, v any, path string) []string {
	s = deref(root, s)
	var out []string
	bad := func(format string, args ...any) { out = append(out, path+": "+fmt.Sprintf(format, args...)) }
	if c, ok := s["const"]; ok && v != c {
		bad("%v is not %v", v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.Contains(e, v) {
		bad("%v is not one of %v", v, e)
	}
	if a, ok := s["anyOf"].([]any); ok {
		matched := false
		for _, sub := range a {
			if len(validateSchema(root, sub.(schemaNode), v, path)) == 0 {
				matched = true
			}
		}
		if !matched {
			bad("%v matches none of anyOf", v)
		}
	}
	switch v := v.(type) {
	case string:
		if s["type"] != nil && s["type"] != "string" {
			bad("got a string; want %v", s["type"])
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(v) {
			bad("%q does not match %s", v, p)
		}
		if m, ok := s["maxLength"].(float64); ok && float64(len(v)) > m {
			bad("%q is longer than %v", v, m)
		}
	case int:
		if s["type"] != nil && s["type"] != "integer" {
			bad("got an integer; want %v", s["type"])
		}
		if m, ok := s["minimum"].(float64); ok && float64(v) < m {
			bad("%d < %v", v, m)
		}
		if m, ok := s["maximum"].(float64); ok && float64(v) > m {
			bad("%d > %v", v, m)
		}
	case bool:
		if s["type"] != nil && s["type"] != "boolean" {
			bad("got a boolean; want %v", s["type"])
		}
	case []any:
		if s["type"] != nil && s["type"] != "array" {
			bad("got an array; want %v", s["type"])
		}
		if m, ok := s["minItems"].(float64); ok && float64(len(v)) < m {
			bad("has %d items; want at least %v", len(v), m)
		}
		if items, ok := s["items"].(schemaNode); ok {
			for i, it := range v {
				out = append(out, validateSchema(root, items, it, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	case map[string]any:
		if s["type"] != nil && s["type"] != "object" {
			bad("got an object; want %v", s["type"])
		}
		props, _ := s["properties"].(schemaNode)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				bad("%v is required", r)
			}
		}
		for k, val := range v {
			p, ok := props[k].(schemaNode)
			if !ok {
				if s["additionalProperties"] == false {
					bad("%s is not allowed", k)
				}
				continue
			}
			out = append(out, validateSchema(root, p, val, joinPath(path, k))...)
		}
	default:
		bad("unexpected value %v (%T)", v, v)
	}
	return out
}
