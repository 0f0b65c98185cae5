package topology

import (
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// locator maps field paths (spec.hosts[2].ip) to the YAML nodes that hold them,
// so that problems found after decoding still point at a line.
type locator struct {
	entries []*entry          // in document order
	byPath  map[string]*entry // the first entry of each path
}

// entry is one value of the document: a mapping value, a sequence item or the root.
type entry struct {
	path string
	key  *yaml.Node // the mapping key; nil for the root and sequence items
	val  *yaml.Node
	// typ is the Go type decoded from this value, nil where the file type has no such field.
	typ reflect.Type
}

var fileType = reflect.TypeFor[File]()

// newLocator indexes a parsed document (nil gives an empty index).
func newLocator(doc *yaml.Node) *locator {
	l := &locator{byPath: map[string]*entry{}}
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		l.walk("", nil, doc.Content[0], fileType)
	}
	return l
}

func (l *locator) walk(path string, key, val *yaml.Node, typ reflect.Type) {
	e := &entry{path: path, key: key, val: val, typ: typ}
	l.entries = append(l.entries, e)
	if _, ok := l.byPath[path]; !ok {
		l.byPath[path] = e
	}
	for typ != nil && typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch val.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(val.Content); i += 2 {
			k, v := val.Content[i], val.Content[i+1]
			l.walk(joinPath(path, k.Value), k, v, fieldType(typ, k.Value))
		}
	case yaml.SequenceNode:
		var elem reflect.Type
		if typ != nil && typ.Kind() == reflect.Slice {
			elem = typ.Elem()
		}
		for i, v := range val.Content {
			l.walk(path+"["+strconv.Itoa(i)+"]", nil, v, elem)
		}
	}
	// Aliases are not followed: their target is indexed where it is written.
}

// fieldType is the type of the field of struct t written as name in YAML, or nil.
func fieldType(t reflect.Type, name string) reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return t.Field(i).Type
		}
	}
	return nil
}

// yamlName is a struct field's name in YAML.
func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// yamlFields lists the YAML names of struct t's fields, in declaration order.
func yamlFields(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for i := range t.NumField() {
		names = append(names, yamlName(t.Field(i)))
	}
	return names
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// parentPath strips the last ".name" or "[i]" of a path.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// has reports whether path is written in the file.
func (l *locator) has(path string) bool {
	_, ok := l.byPath[path]
	return ok
}

// set reports whether path is written with a value other than null.
func (l *locator) set(path string) bool {
	e, ok := l.byPath[path]
	return ok && !isNull(e.val)
}

// line is the line of the value at path. An empty value (`name:`) points at its
// key; an absent field points at the nearest enclosing field that is written.
func (l *locator) line(path string) int {
	if e, ok := l.byPath[path]; ok {
		if e.key != nil && isNull(e.val) {
			return e.key.Line
		}
		return e.val.Line
	}
	for path != "" {
		path = parentPath(path)
		if e, ok := l.byPath[path]; ok {
			if e.key != nil {
				return e.key.Line
			}
			return e.val.Line
		}
	}
	return 1
}

// isNull reports an empty or null value, which the parser places after its key.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}
