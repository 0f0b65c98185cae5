// Package checkout locates the reachgate source tree the tools run from.
package checkout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// Root walks up from the working directory to the reachgate module's go.mod.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(data), "module reachgate\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("cannot find the reachgate module root above the working directory")
		}
	}
}
