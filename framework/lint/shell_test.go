package lint

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseShell(t *testing.T) {
	t.Parallel()
	src := "#!/bin/sh\n# comment\n" +
		"name=$(kubectl get sa my-ksa -o jsonpath='{$.secrets[0].name}') ca=\"$(kubectl get secret/$name -o jsonpath='{.data.ca\\.crt}')\"\n" +
		"kubectl create clusterrolebinding b \\\n  --clusterrole=cluster-admin --serviceaccount default:x # trailing\n" +
		"cat <<END > nginx.conf\n" +
		"kubectl create clusterrolebinding not-a-command --clusterrole cluster-admin --serviceaccount a:b\n" +
		"END\n" +
		"cat a.crt a.key > s.pem && echo \"done; really\" | tee x; kubectl -n default patch svc kubernetes -p '{}'\n"
	s := parseShell("t.sh", []byte(src))
	var got []string
	for _, c := range s.Commands {
		got = append(got, strconv.Itoa(c.Line)+" "+strings.Join(c.Words, " "))
	}
	want := []string{
		"3 name=$(kubectl get sa my-ksa -o jsonpath='{$.secrets[0].name}') ca=$(kubectl get secret/$name -o jsonpath='{.data.ca\\.crt}')",
		"3 kubectl get sa my-ksa -o jsonpath={$.secrets[0].name}",
		"3 kubectl get secret/$name -o jsonpath={.data.ca\\.crt}",
		"4 kubectl create clusterrolebinding b --clusterrole=cluster-admin --serviceaccount default:x",
		"6 cat > nginx.conf",
		"9 cat a.crt a.key > s.pem",
		"9 echo done; really",
		"9 tee x",
		"9 kubectl -n default patch svc kubernetes -p {}",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
	if v, ok := s.Commands[3].flag("--clusterrole"); !ok || v != "cluster-admin" {
		t.Errorf("flag --clusterrole = %q, %v; want cluster-admin", v, ok)
	}
	if !s.Commands[8].is("kubectl", "patch", "svc", "kubernetes") {
		t.Error("is() does not skip -n default")
	}
	// The here-document's body is data, not commands.
	if fs := shellClusterAdmin(s); len(fs) != 1 || fs[0].Evidence.Line != 4 {
		t.Errorf("cluster-admin findings %v; want one at line 4", fs)
	}
	if fs := shellPatchKubernetes(s); len(fs) != 1 || fs[0].Evidence.Line != 9 {
		t.Errorf("patch findings %v; want one at line 9", fs)
	}
	created := parseShell("r.sh", []byte("kubectl create clusterrole -o yaml custom --verb=get --resource=pods\nkubectl create clusterrolebinding b --clusterrole custom --serviceaccount a:b\n"))
	if fs := shellMissingRole(created); len(fs) != 0 {
		t.Errorf("a ClusterRole created in the script is reported missing: %v", fs)
	}
}
