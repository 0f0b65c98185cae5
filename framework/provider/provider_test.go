package provider_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"reachgate/framework/provider"
)

// bare provisions only; it has no abilities.
type bare struct{}

func (bare) Name() string { return "bare" }
func (bare) Provision(context.Context, provider.Spec) (provider.Environment, error) {
	return nil, errors.New("not here")
}

// attaching records the name it was asked to attach to.
type attaching struct {
	bare
	got *string
}

func (a attaching) Attach(_ context.Context, name string, log *slog.Logger) (provider.Environment, error) {
	if log == nil {
		return nil, errors.New("nil logger")
	}
	*a.got = name
	return nil, nil
}

func TestAttach(t *testing.T) {
	t.Parallel()
	_, err := provider.Attach(context.Background(), bare{}, "x", nil)
	if err == nil || err.Error() != "provider bare cannot attach to an existing environment" {
		t.Errorf("Attach on a provider without the ability: %v", err)
	}
	var got string
	if _, err := provider.Attach(context.Background(), attaching{got: &got}, "lab1", nil); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if got != "lab1" {
		t.Errorf("Attach asked for %q, want lab1", got)
	}
}
