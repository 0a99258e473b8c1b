package nodes

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
)

// subnet is the /24 a run's bridge and nodes live on: 10.250.X.0/24 with the
// bridge (the host side) at .1 and node i at .10+i. Only this bridge and
// loopback are used; nodes are never routed anywhere else.
type subnet struct{ third int }

func (s subnet) gateway() net.IP       { return net.IPv4(10, 250, byte(s.third), 1) }
func (s subnet) node(i int) net.IP     { return net.IPv4(10, 250, byte(s.third), byte(10+i)) }
func (s subnet) cidr(ip net.IP) string { return ip.String() + "/24" }

// pickSubnet chooses a 10.250.X.0/24 that no interface on this host uses.
func pickSubnet() (subnet, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return subnet{}, err
	}
	used := map[int]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if v4 := ipn.IP.To4(); v4 != nil && v4[0] == 10 && v4[1] == 250 {
				used[int(v4[2])] = true
			}
		}
	}
	for range 256 {
		if x := rand.IntN(256); !used[x] {
			return subnet{third: x}, nil
		}
	}
	return subnet{}, fmt.Errorf("no free 10.250.X.0/24 subnet for a test bridge")
}

func createBridge(name string, s subnet) error {
	cmds := [][]string{
		{"link", "add", name, "type", "bridge"},
		{"addr", "add", s.cidr(s.gateway()), "dev", name},
		{"link", "set", name, "up"},
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return fmt.Errorf("creating bridge %s: %w", name, err)
		}
	}
	return nil
}

func deleteBridge(name string) {
	_ = ip("link", "del", name)
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
