//go:build !unix

package fsutil

// syncDir: directories cannot be synced here; the rename is still atomic.
func syncDir(string) error { return nil }
