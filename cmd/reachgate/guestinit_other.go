//go:build !linux

package main

import "errors"

func guestInit(string) error { return errors.New("a lab instance's init runs on Linux only") }
