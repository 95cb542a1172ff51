package devstack

import "fmt"

// ServerPIDs returns the process ID of every server the stack runs now,
// by name (vault, minio, gateway or gateway-1.., haproxy), so a load
// generator can read their CPU time and RSS from /proc. A killed replica
// is absent until StartReplica; a restarted one has a new PID.
func (s *Stack) ServerPIDs() map[string]int {
	out := make(map[string]int, len(s.procs))
	for name, p := range s.procs {
		out[name] = p.PID()
	}
	return out
}

// ReplicaName is the process name of replica i (0-based) in ServerPIDs:
// "gateway-1".. with Replicas > 1, else "gateway".
func (s *Stack) ReplicaName(i int) string {
	if s.opts.Replicas <= 1 {
		return "gateway"
	}
	return replicaName(i)
}

// ReplicaURL is replica i's own API address, bypassing HAProxy (to ask
// each replica the same question, e.g. whether a deny reached it).
func (s *Stack) ReplicaURL(i int) string {
	if s.opts.Replicas <= 1 {
		return s.GatewayURL()
	}
	return fmt.Sprintf("http://127.0.0.1:%d", s.st.Ports.Replica[i])
}
