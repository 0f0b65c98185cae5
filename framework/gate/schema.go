package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"reachgate/fixtures"
)

// SchemaURL is the snapshot schema's $id; the schema ships as fixtures/gate/snapshot.schema.json.
const SchemaURL = "https://reachgate.dev/schemas/gate-snapshot.schema.json"

// topologySchemaURL is where the snapshot schema's "../topologies/topology.schema.json" resolves.
const topologySchemaURL = "https://reachgate.dev/topologies/topology.schema.json"

// compileSchema compiles the snapshot schema with the topology schema it refers to.
func compileSchema() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	for url, data := range map[string][]byte{SchemaURL: fixtures.GateSnapshotSchema(), topologySchemaURL: fixtures.Schema()} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("schema %s: %w", url, err)
		}
		if err := c.AddResource(url, doc); err != nil {
			return nil, err
		}
	}
	return c.Compile(SchemaURL)
}

// ParseSnapshot checks data against the snapshot schema and decodes it. Errors name the file
// (name), the place in the document and what is wrong.
func ParseSnapshot(name string, data []byte) (*Snapshot, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not JSON: %v (a snapshot is what reachgate gate snapshot writes)", name, err)
	}
	sch, err := compileSchema()
	if err != nil {
		return nil, fmt.Errorf("gate: the snapshot schema: %w", err)
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		msg := err.Error()
		if e, ok := err.(*jsonschema.ValidationError); ok {
			ve = e
			msg = strings.TrimSpace(strings.Join(leaves(ve), "; "))
		}
		return nil, fmt.Errorf("%s: not a version %d gate snapshot: %s (take a new baseline with reachgate gate snapshot)", name, Version, msg)
	}
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

// leaves are the innermost validation errors, each as "at /json/pointer: message".
func leaves(e *jsonschema.ValidationError) []string {
	if len(e.Causes) == 0 {
		return []string{fmt.Sprintf("at /%s: %s", strings.Join(e.InstanceLocation, "/"), e.ErrorKind.LocalizedString(message.NewPrinter(language.English)))}
	}
	var out []string
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}
