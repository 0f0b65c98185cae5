package topology

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// ParseFile reads and parses the topology file at path; path is the File of
// any *Error and the Source of the Topology. Failing to read the file gives a
// wrapped I/O error, not an *Error.
func ParseFile(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a topology file strictly (unknown fields, wrong types and more
// than one YAML document are errors), validates it and applies the defaults.
// name is used in errors and as Topology.Source. Every error is an *Error; when
// the file has several problems, it is the first in file order.
func Parse(name string, data []byte) (*Topology, error) {
	t, errs := parse(name, data)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return t, nil
}

// parse returns the resolved topology, or all the problems found, in file order.
// Decoding problems stop it before validation, which needs a decoded file.
func parse(name string, data []byte) (*Topology, []*Error) {
	doc, perr := parseDocument(name, data)
	if perr != nil {
		return nil, []*Error{perr}
	}
	loc := newLocator(doc)
	var f File
	if err := decodeStrict(data, &f); err != nil {
		return nil, sorted(decodeErrors(name, loc, err))
	}
	t := resolve(name, &f)
	if errs := validate(name, loc, &f, t); len(errs) > 0 {
		return nil, errs
	}
	t.hostsLine = loc.line("spec.hosts")
	if e, ok := loc.byPath["spec.hosts"]; ok && e.key != nil {
		t.hostsLine = e.key.Line // the "hosts:" key, where a role would be looked for
	}
	return t, nil
}

// parseDocument reads the node tree (for line numbers) and checks that the file
// holds exactly one YAML document.
func parseDocument(name string, data []byte) (doc *yaml.Node, perr *Error) {
	defer func() {
		// The YAML library must not bring the caller down on hostile input.
		if r := recover(); r != nil {
			doc, perr = nil, &Error{File: name, Line: 1, Msg: fmt.Sprintf("invalid YAML: the parser failed: %v (simplify the file)", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: 1, Msg: "the file is empty (write a Topology: apiVersion: " + APIVersion + ", kind: " + Kind + ", metadata and spec)"}
		}
		return nil, syntaxError(name, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return nil, &Error{File: name, Line: next.Line, Msg: "a second YAML document starts here (a topology file holds one document: remove this '---' and what follows, or split the file)"}
	case !errors.Is(err, io.EOF):
		return nil, syntaxError(name, data, err)
	}
	return &root, nil
}

// decodeStrict decodes the (single) document into f, refusing unknown fields.
func decodeStrict(data []byte, f *File) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(f)
}
