// Package natstest starts embedded NATS JetStream clusters for tests: n
// nodes on 127.0.0.1, each with its own random client port and store
// directory, routed to one another. Tests reach them with queue.Config.URLs
// exactly as a host reaches a production cluster, and can stop and restart
// single nodes.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// StartTimeout bounds the start of a cluster: every node ready for
// connections and a JetStream meta leader elected.
const StartTimeout = 30 * time.Second

// Cluster is a running test cluster. Its methods are safe for concurrent
// use.
type Cluster struct {
	t    testing.TB
	mu   sync.Mutex
	opts []*server.Options
	srv  []*server.Server // nil while stopped
}

// Start starts an n-node cluster and stops it at the end of the test.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := freePorts(t, n)
	routes := make([]*url.URL, n)
	for i, p := range ports {
		routes[i] = &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	c := &Cluster{t: t, opts: make([]*server.Options, n), srv: make([]*server.Server, n)}
	for i := range n {
		c.opts[i] = &server.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "iw-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		}
	}
	t.Cleanup(c.Shutdown)
	for i := range n {
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	c.waitLeader()
	return c
}

// freePorts reserves n loopback ports for cluster routes (each node must
// know every other's route port before it starts).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("reserve a route port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// waitLeader waits until some node is the JetStream meta leader and sees
// every node online (before that, a replicated stream finds "no suitable
// peers"). The server offers no notification for it, so this checks the
// condition every 10ms (as nats-server's own tests do), bounded by
// StartTimeout.
func (c *Cluster) waitLeader() {
	c.t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for time.Now().Before(deadline) {
		if c.ready() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("natstest: no JetStream meta leader seeing all %d nodes within %v", len(c.srv), StartTimeout)
}

func (c *Cluster) ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.srv {
		if s != nil && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(c.srv) {
			return true
		}
	}
	return false
}

// URLs returns the client URLs of the running nodes.
func (c *Cluster) URLs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, s := range c.srv {
		if s != nil {
			out = append(out, s.ClientURL())
		}
	}
	return out
}

// Stop shuts node i down (its data stays on disk) and waits until it has.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	s := c.srv[i]
	c.srv[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// Restart starts node i (again), on the same client port and store.
func (c *Cluster) Restart(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv[i] != nil {
		return fmt.Errorf("natstest: node %d is running", i+1)
	}
	o := c.opts[i].Clone()
	s, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("natstest: node %d: %w", i+1, err)
	}
	s.Start()
	if !s.ReadyForConnections(StartTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return fmt.Errorf("natstest: node %d: not ready within %v", i+1, StartTimeout)
	}
	// Keep the port the node got, so clients find it after a restart.
	c.opts[i].Port = s.Addr().(*net.TCPAddr).Port
	c.srv[i] = s
	return nil
}

// Shutdown stops every node.
func (c *Cluster) Shutdown() {
	for i := range c.srv {
		c.Stop(i)
	}
}
