package remote

import (
	"context"
	"errors"
	"sync"
)

// DefaultParallelism bounds concurrent per-host work unless a flag says otherwise.
const DefaultParallelism = 10

// ForEach runs fn for every item, at most limit at a time, and returns every
// failure joined: one host's error does not hide another's, and does not stop
// work already under way on the others. ctx cancellation stops new starts.
func ForEach[T any](ctx context.Context, items []T, limit int, fn func(context.Context, T) error) error {
	if limit <= 0 {
		limit = DefaultParallelism
	}
	sem := make(chan struct{}, limit)
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return errors.Join(append(errs, ctx.Err())...)
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fn(ctx, it); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
