package workload

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSnapshot is the machine's CPU time and this process's (with its
// waited-for children, the workers) at one moment.
type cpuSnapshot struct {
	at          time.Time
	busy, steal time.Duration // whole machine, from /proc/stat
	own         time.Duration // this process and its reaped children
	ok          bool
}

// userHZ is the unit of /proc/stat on Linux.
const userHZ = 100

func takeCPUSnapshot() cpuSnapshot {
	s := cpuSnapshot{at: time.Now()}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return s
	}
	var v [8]int64
	for i := range v {
		v[i], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	tick := time.Second / userHZ
	s.busy = time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick // user nice system irq softirq
	s.steal = time.Duration(v[7]) * tick
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			s.own += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	s.ok = true
	return s
}

// Interference is how much CPU the rest of the machine used while the
// benchmark ran, as a fraction of the machine's capacity (all CPUs).
type Interference struct {
	OtherCPU float64 `json:"other_processes_cpu_fraction"`
	Steal    float64 `json:"hypervisor_steal_fraction"`
}

func interference(a, b cpuSnapshot, cpus int) (Interference, bool) {
	if !a.ok || !b.ok || cpus <= 0 {
		return Interference{}, false
	}
	capacity := float64(b.at.Sub(a.at)) * float64(cpus)
	if capacity <= 0 {
		return Interference{}, false
	}
	other := float64((b.busy-a.busy)-(b.own-a.own)) / capacity
	return Interference{OtherCPU: max(other, 0), Steal: float64(b.steal-a.steal) / capacity}, true
}
