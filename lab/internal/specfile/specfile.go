// Package specfile reads and writes the JSON spec and status files of the lab's daemons
// (load balancers, VPN gateways, BGP speakers): strict decoding with line:column in errors,
// and atomic writes, so a daemon re-reading a file never sees half of it.
package specfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// DecodeJSON decodes one JSON object strictly; syntax and type errors carry line:column.
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errors.New("the file is empty; want a JSON object")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fmt.Errorf("line %s: the JSON ends early; close every object and array", LineCol(data, int64(len(data))))
		case errors.As(err, &se):
			return fmt.Errorf("line %s: %v", LineCol(data, se.Offset), err)
		case errors.As(err, &te):
			return fmt.Errorf("line %s: field %s: want a JSON %v, got %s", LineCol(data, te.Offset), te.Field, te.Type, te.Value)
		case dec.InputOffset() > 0:
			return fmt.Errorf("near line %s: %v (check the field name's spelling)", LineCol(data, dec.InputOffset()), err)
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %s: unexpected data after the JSON object", LineCol(data, dec.InputOffset()))
	}
	return nil
}

// LineCol renders a byte offset as "line:column" (both from 1).
func LineCol(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int64(len(before)-bytes.LastIndexByte(before, '\n')) - 1
	return fmt.Sprintf("%d:%d", line, max(col, 1))
}

// WriteAtomic writes data to a temporary file next to path and renames it over path.
func WriteAtomic(path string, data []byte) error { return WriteAtomicMode(path, data, 0o644) }

// WriteAtomicMode is WriteAtomic with the file's mode (0o600 for a secret).
func WriteAtomicMode(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), mode)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// WriteJSON writes v as indented JSON to path atomically; what names the file in errors
// (e.g. "vpn status").
func WriteJSON(path, what string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := WriteAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

// Remove deletes path; a missing file is not an error.
func Remove(path, what string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", what, err)
	}
	return nil
}
