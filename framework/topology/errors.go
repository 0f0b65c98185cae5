package topology

import (
	"fmt"
	"sort"
	"strconv"
)

// Error is a problem in a topology file: where it is and how to fix it.
// Parse returns only this type (ParseFile also wraps I/O errors).
type Error struct {
	// File is the name given to Parse (the path given to ParseFile).
	File string
	// Line is 1-based: the line of the offending value, or of the enclosing
	// mapping when a required field is missing.
	Line int
	// Field is the path of the field, like spec.vpcs[1].subnets[0].cidr;
	// "" for problems of the whole file (empty, not YAML, several documents).
	Field string
	// Msg says what is wrong and, in parentheses, how to fix it.
	Msg string
}

// Error formats as "file:line: field: message", leaving out an empty part.
func (e *Error) Error() string {
	s := e.File
	if e.Line > 0 {
		s += ":" + strconv.Itoa(e.Line)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// problems collects the errors of one file. Validation records every problem it
// finds so that a caller could one day report them all; Parse reports the first.
type problems struct {
	file string
	loc  *locator
	list []*Error
}

// add records a problem with the field at path, pointing at its value's line
// (or at the enclosing mapping's line when the field is absent).
func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, &Error{File: p.file, Line: p.loc.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

// sorted returns the problems in file order; problems on one line keep the
// order in which they were found.
func sorted(list []*Error) []*Error {
	sort.SliceStable(list, func(i, j int) bool { return list[i].Line < list[j].Line })
	return list
}
