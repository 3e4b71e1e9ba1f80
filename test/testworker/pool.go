package main

import (
	"context"
	"os"
	"sync"
)

var held struct {
	sync.Mutex
	bufs [][]byte
}

// hold serves testproto.Hold: it keeps n MiB resident.
func hold(ctx context.Context, n int) (int, error) {
	b := make([]byte, n<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	held.Lock()
	held.bufs = append(held.bufs, b)
	held.Unlock()
	return os.Getpid(), nil
}
