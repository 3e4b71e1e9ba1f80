package natstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NodeEnv, set in a process's environment, makes RunNodeIfAsked run a
// cluster node in that process; its value is the node's options (JSON).
const NodeEnv = "IW_NATSTEST_NODE"

// nodeSpec is what a node process needs to know.
type nodeSpec struct {
	Name        string   `json:"name"`
	ClientPort  int      `json:"clientPort"`
	ClusterPort int      `json:"clusterPort"`
	Routes      []string `json:"routes"`
	StoreDir    string   `json:"storeDir"`
	Nodes       int      `json:"nodes"`
}

// RunNodeIfAsked runs a cluster node and exits when NodeEnv is set (call
// it first in TestMain: StartProcesses runs the test binary again as each
// node); otherwise it returns at once. The node prints "ready" on stdout
// when it takes connections, "meta" when it is the JetStream meta leader
// and sees every node, and runs until its stdin closes or it is killed.
func RunNodeIfAsked() {
	v := os.Getenv(NodeEnv)
	if v == "" {
		return
	}
	var spec nodeSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "natstest node: %s: %v\n", NodeEnv, err)
		os.Exit(2)
	}
	var routes []*url.URL
	for _, r := range spec.Routes {
		u, err := url.Parse(r)
		if err != nil {
			fmt.Fprintf(os.Stderr, "natstest node %s: route %q: %v\n", spec.Name, r, err)
			os.Exit(2)
		}
		routes = append(routes, u)
	}
	s, err := server.NewServer(&server.Options{
		ServerName: spec.Name,
		Host:       "127.0.0.1",
		Port:       spec.ClientPort,
		JetStream:  true,
		StoreDir:   spec.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		Cluster:    server.ClusterOpts{Name: "iw-test", Host: "127.0.0.1", Port: spec.ClusterPort},
		Routes:     routes,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "natstest node %s: %v\n", spec.Name, err)
		os.Exit(2)
	}
	s.Start()
	if !s.ReadyForConnections(StartTimeout) {
		fmt.Fprintf(os.Stderr, "natstest node %s: not ready within %v\n", spec.Name, StartTimeout)
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	go func() {
		// See waitLeader: there is no notification for it.
		for !(s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == spec.Nodes) {
			time.Sleep(10 * time.Millisecond)
		}
		os.Stdout.WriteString("meta\n")
	}()
	io.Copy(io.Discard, os.Stdin)
	s.Shutdown()
	s.WaitForShutdown()
	os.Exit(0)
}

// Processes is a cluster whose nodes are processes (this test binary run
// again, see RunNodeIfAsked), so that a test can kill -9 one.
type Processes struct {
	t     testing.TB
	specs []nodeSpec
	mu    sync.Mutex
	procs []*nodeProc // nil while stopped
	meta  chan struct{}
}

type nodeProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when the process has exited
}

// StartProcesses starts an n-node cluster of node processes on loopback
// ports, waits until a JetStream meta leader sees every node, and kills
// the nodes at the end of the test.
func StartProcesses(t testing.TB, n int) *Processes {
	t.Helper()
	ports := freePorts(t, 2*n)
	var routes []string
	for i := range n {
		routes = append(routes, "nats://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[n+i])))
	}
	p := &Processes{t: t, procs: make([]*nodeProc, n), meta: make(chan struct{}, n)}
	for i := range n {
		p.specs = append(p.specs, nodeSpec{Name: "n" + strconv.Itoa(i+1), ClientPort: ports[i], ClusterPort: ports[n+i],
			Routes: routes, StoreDir: t.TempDir(), Nodes: n})
	}
	t.Cleanup(p.shutdown)
	for i := range n {
		if err := p.Restart(i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-p.meta:
	case <-time.After(StartTimeout):
		t.Fatalf("natstest: no JetStream meta leader seeing all %d nodes within %v", n, StartTimeout)
	}
	return p
}

// URLs returns every node's client URL (stopped ones included: a client
// fails over between them).
func (p *Processes) URLs() []string {
	var out []string
	for _, s := range p.specs {
		out = append(out, "nats://"+net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ClientPort)))
	}
	return out
}

// Restart starts node i's process (again) on its ports and store, and
// waits until it takes connections.
func (p *Processes) Restart(i int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.procs[i] != nil {
		return fmt.Errorf("natstest: node %d is running", i+1)
	}
	spec, err := json.Marshal(p.specs[i])
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), NodeEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("natstest: start node %d: %w", i+1, err)
	}
	np := &nodeProc{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			switch sc.Text() {
			case "ready":
				close(ready)
			case "meta":
				select {
				case p.meta <- struct{}{}:
				default: // StartProcesses waits for one
				}
			}
		}
		cmd.Wait()
		close(np.done)
	}()
	select {
	case <-ready:
	case <-np.done:
		return fmt.Errorf("natstest: node %d exited before it took connections", i+1)
	case <-time.After(StartTimeout):
		cmd.Process.Kill()
		<-np.done
		return fmt.Errorf("natstest: node %d: not ready within %v", i+1, StartTimeout)
	}
	p.procs[i] = np
	return nil
}

// Kill9 kills node i's process with SIGKILL (no shutdown, no flush) and
// waits for it to exit.
func (p *Processes) Kill9(i int) {
	p.mu.Lock()
	np := p.procs[i]
	p.procs[i] = nil
	p.mu.Unlock()
	if np == nil {
		return
	}
	if err := np.cmd.Process.Kill(); err != nil {
		p.t.Errorf("natstest: kill -9 node %d: %v", i+1, err)
	}
	<-np.done
}

// shutdown stops every node: stdin closed (a clean shutdown), killed if it
// has not exited within StartTimeout.
func (p *Processes) shutdown() {
	p.mu.Lock()
	procs := p.procs
	p.procs = make([]*nodeProc, len(procs))
	p.mu.Unlock()
	for _, np := range procs {
		if np != nil {
			np.stdin.Close()
		}
	}
	for _, np := range procs {
		if np == nil {
			continue
		}
		select {
		case <-np.done:
		case <-time.After(StartTimeout):
			np.cmd.Process.Kill()
			<-np.done
		}
	}
}
