package main

import (
	"slices"
	"strings"
	"testing"
)

func TestRootlessCommandsExist(t *testing.T) {
	root := newRootCommand()
	for path, mode := range rootlessCommands {
		args := strings.Fields(path)[1:] // without "reachgate"
		c, rest, err := root.Find(args)
		if err != nil || len(rest) != 0 || c.CommandPath() != path {
			t.Errorf("%s (%s) names no command: found %v, rest %v, err %v", path, mode, c.CommandPath(), rest, err)
		}
	}
}

func TestRootlessMode(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"lab", "up"}, rootlessCreate},
		{[]string{"lab", "exec", "--name", "x", "tp-vm", "--", "true"}, rootlessEnter},
		{[]string{"lab", "build"}, ""},
		{[]string{"lint"}, ""},
		{[]string{"report", "--in", "x"}, ""},
		{[]string{"doctor"}, ""},
		{[]string{"gate", "snapshot", "-o", "x"}, rootlessEnter},
		{[]string{"gate", "snapshot", "--provider", "gcp", "-o", "x"}, ""},
		{[]string{"gcp", "import", "--project", "p"}, ""},
		{[]string{"gcp", "import", "--gcp-lab", "seed"}, rootlessEnter},
	}
	for _, c := range cases {
		root := newRootCommand()
		cmd, rest, err := root.Find(c.args)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if got := rootlessMode(cmd); got != c.want {
			t.Errorf("%v: mode %q, want %q", c.args, got, c.want)
		}
	}
}

func TestWithoutRuntimeFlag(t *testing.T) {
	got := withoutRuntimeFlag([]string{"lab", "up", "--runtime", "container", "--name", "x", "--runtime=container", "-f", "t.yaml"})
	want := []string{"lab", "up", "--name", "x", "-f", "t.yaml"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
