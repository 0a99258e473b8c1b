package workflow

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Retry calls f every interval until it returns nil or timeout passes. A
// phase's check of a result that takes a while to show (an API server
// answering, an etcd member catching up, a VIP moving) reads better as the
// last thing that was wrong than as "timed out": so on timeout the error is
// f's last one, prefixed with how long it was tried; when ctx ends first it
// is ctx's.
func Retry(ctx context.Context, interval, timeout time.Duration, f func(context.Context) error) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		return last == nil, nil
	})
	if err == nil {
		return nil
	}
	if last == nil || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("after %s: %w", timeout, last)
}
