package bootstrap

import (
	"context"
	"testing"
	"time"
)

func TestUploadOrderLetsWorkersWaitForControlPlanes(t *testing.T) {
	var o UploadOrder
	if err := o.Wait(context.Background()); err != nil {
		t.Fatalf("nothing marked: %v", err)
	}
	a, b := o.First(), o.First()
	waited := make(chan error, 1)
	go func() { waited <- o.Wait(context.Background()) }()
	a()
	a() // done twice counts once
	select {
	case <-waited:
		t.Fatal("Wait returned while a control plane still uploads")
	case <-time.After(50 * time.Millisecond):
	}
	b()
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	c := o.First()
	defer c()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := o.Wait(ctx); err == nil {
		t.Fatal("Wait ignored its context")
	}
}
