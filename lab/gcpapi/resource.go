package gcpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"time"

	"reachgate/lab"

	"google.golang.org/protobuf/proto"
)

// Helpers the read verbs share.

// labEpoch stands for creationTimestamp when the lab's state has no creation time.
var labEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// created is the creationTimestamp of every resource: the lab's creation time, in compute's
// RFC 3339 form with milliseconds and a numeric zone ("2024-01-01T00:00:00.000-07:00").
func (s *Server) created() string {
	t := labEpoch
	if st := s.cloud.L.State; st != nil && !st.Created.IsZero() {
		t = st.Created
	}
	return t.Format("2006-01-02T15:04:05.000-07:00")
}

// state is the lab's recorded cloud changes (empty when nothing was recorded).
func (s *Server) state() *lab.CloudState {
	if cs := s.cloud.L.Cloud; cs != nil {
		return cs
	}
	return &lab.CloudState{}
}

// notFoundResource answers 404 for "projects/P/<path>", as compute words it.
func (s *Server) notFoundResource(w http.ResponseWriter, path string) {
	writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource 'projects/%s/%s' was not found", s.project, path))
}

// fingerprint is a resource's fingerprint: a base64 hash of its content (parts).
func fingerprint(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)[:8])
}

// methodNotAllowed answers 405 for a verb the collection does not serve.
func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusMethodNotAllowed, "methodNotAllowed", r.Method+" is not allowed on "+r.URL.Path)
}

// named is a resource message with a name.
type named interface {
	proto.Message
	GetName() string
}

// getOrList answers GET of a global collection: the list (made by list from all items) or the
// member named by rest[0]; 404 for a name that is not there, 405 for any other verb.
func getOrList[T named](s *Server, w http.ResponseWriter, r *http.Request, collection string, rest []string, all []T, list func([]T) proto.Message) {
	switch {
	case r.Method != http.MethodGet || len(rest) > 1:
		methodNotAllowed(w, r)
	case len(rest) == 0:
		writeProto(w, http.StatusOK, list(all))
	default:
		for _, it := range all {
			if it.GetName() == rest[0] {
				writeProto(w, http.StatusOK, it)
				return
			}
		}
		s.notFoundResource(w, "global/"+collection+"/"+rest[0])
	}
}
