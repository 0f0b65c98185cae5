package topology

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The YAML library reports decoding problems as text; these patterns pick out
// the line and the subject so that the problem can be tied to a field path.
var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	reWrongType    = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+)(?: `.*`)? into (\\S+)$")
	reDuplicateKey = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	reSyntaxLine   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	reAnyLine      = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// syntaxError turns a YAML parse failure into an Error.
func syntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	if m := reSyntaxLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if strings.Contains(m[2], "tab character") {
			n = tabLine(data, n)
		}
		return &Error{File: file, Line: n, Msg: "invalid YAML: " + m[2] + " (check the indentation and quoting on this line and the one before)"}
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	return &Error{File: file, Line: badByteLine(data), Msg: "invalid YAML: " + msg + " (use UTF-8 text, spaces for indentation and no control characters)"}
}

// badByteLine finds the line of the first byte YAML refuses (invalid UTF-8, a
// control character or a tab in indentation); the parser does not report it.
func badByteLine(data []byte) int {
	line, indent := 1, true
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line
		case r == '\n':
			line, indent = line+1, true
		case r == '\t' && indent:
			return line
		case r < 0x20 && r != '\t' && r != '\r', r == 0x7f:
			return line
		case r != ' ':
			indent = false
		}
		i += size
	}
	return 1
}

// tabLine is the first line from line n on that is indented with a tab; the
// parser reports such a problem at the line before.
func tabLine(data []byte, n int) int {
	for i, line := range strings.Split(string(data), "\n") {
		if i+1 >= n && strings.Contains(line[:len(line)-len(strings.TrimLeft(line, " \t"))], "\t") {
			return i + 1
		}
	}
	return n
}

// decodeErrors turns the library's decoding errors into Errors tied to fields.
func decodeErrors(file string, loc *locator, err error) []*Error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*Error{{File: file, Line: 1, Msg: "cannot decode: " + err.Error()}}
	}
	var out []*Error
	for _, msg := range te.Errors {
		out = append(out, decodeError(file, loc, msg))
	}
	return out
}

func decodeError(file string, loc *locator, msg string) *Error {
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if e := loc.findKey(n, m[2]); e != nil {
			return &Error{File: file, Line: n, Field: e.path, Msg: unknownField(m[2], loc.byPath[parentPath(e.path)])}
		}
	}
	if m := reDuplicateKey.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		name, _ := strconv.Unquote(m[2])
		if e := loc.findKey(n, name); e != nil {
			return &Error{File: file, Line: n, Field: e.path, Msg: fmt.Sprintf("duplicate key %q (it is already set at line %s; remove one)", name, m[3])}
		}
	}
	if m := reWrongType.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		if e := loc.findValue(n, m[3]); e != nil {
			return &Error{File: file, Line: e.val.Line, Field: e.path, Msg: wrongType(e)}
		}
	}
	if m := reAnyLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: n, Msg: m[2]}
	}
	return &Error{File: file, Line: 1, Msg: msg}
}

// findKey is the entry whose key is name at line n.
func (l *locator) findKey(n int, name string) *entry {
	for _, e := range l.entries {
		if e.key != nil && e.key.Line == n && e.key.Value == name {
			return e
		}
	}
	return nil
}

// findValue is the entry decoded into a Go type named typ whose value (or the
// anchor its alias refers to) is at line n.
func (l *locator) findValue(n int, typ string) *entry {
	for _, e := range l.entries {
		v := e.val
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Line == n && e.typ != nil && strings.TrimLeft(e.typ.String(), "*") == strings.TrimLeft(typ, "*") {
			return e
		}
	}
	return nil
}

func unknownField(name string, parent *entry) string {
	if parent == nil || parent.typ == nil {
		return fmt.Sprintf("unknown field %q (remove it)", name)
	}
	allowed := yamlFields(parent.typ)
	for _, a := range allowed {
		if strings.EqualFold(a, name) || editDistance(a, name) <= min(2, len(a)/3) {
			return fmt.Sprintf("unknown field %q (did you mean %s?)", name, a)
		}
	}
	return fmt.Sprintf("unknown field %q (allowed here: %s)", name, strings.Join(allowed, ", "))
}

// wrongType explains a value that does not fit its field's type.
func wrongType(e *entry) string {
	v := e.val
	if v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	got := "a list"
	switch v.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.ScalarNode:
		got = strconv.Quote(v.Value)
	}
	t := e.typ
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if e.path == "" {
			return fmt.Sprintf("the file must be a mapping, not %s (write apiVersion, kind, metadata and spec at the top level)", got)
		}
		return fmt.Sprintf("must be a mapping, not %s (write its fields: %s)", got, strings.Join(yamlFields(t), ", "))
	case reflect.Slice:
		return fmt.Sprintf("must be a list, not %s (write one \"- \" line per item, or [a, b])", got)
	case reflect.Bool:
		return fmt.Sprintf("%s is not true or false (write true or false)", got)
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if strings.HasSuffix(e.path, "asn") {
			return fmt.Sprintf("%s is not a valid ASN number (write a private ASN like 64514)", got)
		}
		return fmt.Sprintf("%s is not a whole number in range (write a number like 1)", got)
	default:
		return fmt.Sprintf("must be a single value, not %s (write it on one line, quoted if needed)", got)
	}
}

// editDistance is the Levenshtein distance, for "did you mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
