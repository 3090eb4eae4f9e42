package ops

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrShutdownBudget says a component was still stopping when its shutdown budget ran out.
var ErrShutdownBudget = errors.New("shutdown budget exceeded")

// RunWithin runs fn and returns what it returns. Once ctx is done, fn has budget to finish its
// work and return; if it has not by then, RunWithin returns an error wrapping ErrShutdownBudget
// at once, and the caller should exit: an orchestrator would kill the process soon after anyway,
// and what was not committed is read again by the next owner (a duplicate attempt, never a loss).
func RunWithin(ctx context.Context, budget time.Duration, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(budget)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("stopping took longer than %s: %w", budget, ErrShutdownBudget)
	}
}
