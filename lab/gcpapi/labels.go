package gcpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"unicode"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// Labels of the resources that have them in the lab (addresses, vpnGateways,
// externalVpnGateways, vpnTunnels): set on insert, returned with a labelFingerprint, changed by
// setLabels. Compute's setLabels: "labelFingerprint … You must always provide an up-to-date
// fingerprint hash when updating or changing labels, otherwise the request will fail with
// error 412 conditionNotMet." Instances show the labels of their role (hostLabels), which
// no call changes.

// labelRune is a rune a label key (after its first) or value may hold: a lowercase or
// caseless letter, a digit or number, '_' or '-'. Checked by hand rather than with a Unicode
// class regexp: compiling those at package init cost every reachgate process about 20 ms
// and 8 MB at start, and the lab starts many short-lived reachgate processes.
func labelRune(r rune) bool {
	return r == '_' || r == '-' || unicode.Is(unicode.Ll, r) || unicode.Is(unicode.Lo, r) || unicode.IsNumber(r)
}

// labelKeyOK: a lowercase letter, then up to 62 label runes.
func labelKeyOK(k string) bool {
	n := 0
	for _, r := range k {
		if n == 0 && !unicode.Is(unicode.Ll, r) || n > 0 && !labelRune(r) {
			return false
		}
		n++
	}
	return n >= 1 && n <= 63
}

// labelValueOK: up to 63 label runes.
func labelValueOK(v string) bool {
	n := 0
	for _, r := range v {
		if !labelRune(r) {
			return false
		}
		n++
	}
	return n <= 63
}

// labelProblem says what is wrong with labels as compute checks them ("" when nothing is):
// at most 64; keys start with a lowercase letter; keys and values up to 63 lowercase letters,
// digits, '_' and '-'.
func labelProblem(labels map[string]string) string {
	if len(labels) > 64 {
		return fmt.Sprintf("%d labels; a resource has at most 64", len(labels))
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		if !labelKeyOK(k) {
			return fmt.Sprintf("label key %q: start with a lowercase letter; up to 63 lowercase letters, digits, '_' or '-'", k)
		}
		if !labelValueOK(labels[k]) {
			return fmt.Sprintf("label %s=%q: the value has up to 63 lowercase letters, digits, '_' or '-'", k, labels[k])
		}
	}
	return ""
}

// checkLabels answers 400 for labels compute refuses and returns false.
func checkLabels(w http.ResponseWriter, labels map[string]string) bool {
	if p := labelProblem(labels); p != "" {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid value for field 'resource.labels': "+p)
		return false
	}
	return true
}

// labelFingerprint is the fingerprint of a set of labels (GCP's own for the empty set).
func labelFingerprint(labels map[string]string) *string {
	if len(labels) == 0 {
		return proto.String(emptyLabelFingerprint)
	}
	var parts []any
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return proto.String(fingerprint(append([]any{"labels"}, parts...)...))
}

// setLabels serves POST …/<collection>/<name>/setLabels ({labels, labelFingerprint}) for a
// resource whose labels are cur: 412 when the fingerprint is not the current one, else an
// operation that replaces the labels.
func (s *Server) setLabels(w http.ResponseWriter, r *http.Request, scope, region, collection, name string, cur map[string]string) {
	var in computepb.RegionSetLabelsRequest
	if !decode(w, r, &in) {
		return
	}
	if in.LabelFingerprint == nil {
		writeError(w, http.StatusBadRequest, "required", "Required field 'labelFingerprint' not specified")
		return
	}
	if in.GetLabelFingerprint() != *labelFingerprint(cur) {
		writeError(w, http.StatusPreconditionFailed, "conditionNotMet",
			"Labels fingerprint either invalid or resource labels have changed")
		return
	}
	if !checkLabels(w, in.GetLabels()) {
		return
	}
	labels := in.GetLabels()
	writeProto(w, http.StatusOK, s.startOperation(scope, "setLabels", s.link(scope, collection, name), func() error {
		return s.cloud.SetLabels(context.Background(), collection, region, name, labels)
	}))
}
