package queuebench

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// clusterStartTimeout bounds the start of the loopback cluster: every node
// ready and a JetStream meta leader that sees them all.
const clusterStartTimeout = 30 * time.Second

// cluster is an n-node JetStream cluster of embedded servers on 127.0.0.1
// (random client ports, routes between them, a store directory each), as
// queue/internal/natstest starts for the queue's own tests; that package is
// internal to queue, so the bench module keeps this small copy.
type cluster struct {
	srv []*server.Server
	dir string
}

func startCluster(n int) (*cluster, error) {
	dir, err := os.MkdirTemp("", "iw-queue-bench-cluster-")
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c := &cluster{dir: dir}
	ports, err := freePorts(n)
	if err != nil {
		c.shutdown()
		return nil, err
	}
	routes := make([]*url.URL, n)
	for i, p := range ports {
		routes[i] = &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	for i := range n {
		s, err := server.NewServer(&server.Options{
			ServerName: "n" + strconv.Itoa(i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   fmt.Sprintf("%s/n%d", dir, i+1),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "iw-bench", Host: "127.0.0.1", Port: ports[i]},
			Routes:     routes,
		})
		if err != nil {
			c.shutdown()
			return nil, fmt.Errorf("cluster node %d: %w", i+1, err)
		}
		s.Start()
		c.srv = append(c.srv, s)
	}
	deadline := time.Now().Add(clusterStartTimeout)
	for _, s := range c.srv {
		if !s.ReadyForConnections(time.Until(deadline)) {
			c.shutdown()
			return nil, fmt.Errorf("cluster node %s: not ready within %v", s.Name(), clusterStartTimeout)
		}
	}
	// The server has no notification for a meta leader seeing every peer;
	// check every 10 ms, as nats-server's own tests do.
	for !c.ready() {
		if time.Now().After(deadline) {
			c.shutdown()
			return nil, fmt.Errorf("cluster: no JetStream meta leader seeing all %d nodes within %v", n, clusterStartTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c, nil
}

func (c *cluster) ready() bool {
	for _, s := range c.srv {
		if s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(c.srv) {
			return true
		}
	}
	return false
}

func (c *cluster) urls() []string {
	var out []string
	for _, s := range c.srv {
		out = append(out, s.ClientURL())
	}
	return out
}

func (c *cluster) shutdown() {
	for _, s := range c.srv {
		s.Shutdown()
	}
	for _, s := range c.srv {
		s.WaitForShutdown()
	}
	os.RemoveAll(c.dir)
}

func freePorts(n int) ([]int, error) {
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
			return nil, fmt.Errorf("cluster: reserve a route port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
