package workflow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Retry's answer is what five callers put in their errors: nil once f
// passes, f's last error after the timeout (named once), the context's
// error when it ends first.
func TestRetry(t *testing.T) {
	calls := 0
	if err := Retry(context.Background(), time.Millisecond, time.Second, func(context.Context) error {
		if calls++; calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}); err != nil || calls != 3 {
		t.Errorf("passing on the third call: %v after %d", err, calls)
	}
	err := Retry(context.Background(), time.Millisecond, 20*time.Millisecond, func(context.Context) error { return errors.New("port 6443 refused") })
	if err == nil || err.Error() != "after 20ms: port 6443 refused" {
		t.Errorf("after the timeout: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = Retry(ctx, time.Millisecond, time.Second, func(context.Context) error { return errors.New("never seen") })
	if err == nil || strings.Contains(err.Error(), "never seen") || !errors.Is(err, context.Canceled) {
		t.Errorf("with the context gone: %v", err)
	}
}
