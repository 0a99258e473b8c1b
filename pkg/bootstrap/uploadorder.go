package bootstrap

import (
	"context"
	"sync"
)

// UploadOrder lets the control planes' bundle uploads go first. Every host
// of an init uploads at once otherwise, and they share the operator's
// uplink and CPU: the first control plane, whose image import and kubeadm
// init everything waits for, finished last. Workers have until their join
// to be ready, so they wait until no control plane is uploading.
type UploadOrder struct {
	mu   sync.Mutex
	busy int
	idle chan struct{} // closed while busy == 0
}

// First marks one host whose uploads go before the others'; done ends it.
func (o *UploadOrder) First() (done func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.busy == 0 {
		o.idle = make(chan struct{})
	}
	o.busy++
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.busy--; o.busy == 0 {
				close(o.idle)
			}
		})
	}
}

// Wait returns once no host marked First is uploading.
func (o *UploadOrder) Wait(ctx context.Context) error {
	o.mu.Lock()
	idle := o.idle
	busy := o.busy
	o.mu.Unlock()
	if busy == 0 {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
