package etcd

import "testing"

func TestSnapshotSourcePrefersAFollower(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows []MemberStatus
		want string
	}{
		{"follower over leader", []MemberStatus{{Name: "a", Healthy: true, Leader: true}, {Name: "b", Healthy: true}}, "b"},
		{"leader when alone", []MemberStatus{{Name: "a", Healthy: true, Leader: true}, {Name: "b"}}, "a"},
		{"never a learner", []MemberStatus{{Name: "a", Healthy: true, Leader: true}, {Name: "c", Healthy: true, Learner: true}}, "a"},
		{"nobody healthy", []MemberStatus{{Name: "a"}, {Name: "b"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := snapshotSource(tc.rows)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("picked %s from unhealthy members", got.Name)
				}
				return
			}
			if err != nil || got.Name != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestMemberMatchesRow(t *testing.T) {
	unstarted := &memberInfo{ID: 7, PeerURLs: []string{"https://10.0.0.12:2380"}}
	started := &memberInfo{ID: 8, Name: "etcd0", PeerURLs: []string{"https://10.0.0.10:2380"}, ClientURLs: []string{"https://10.0.0.10:2379"}}
	row := func(name, ep, peer string) *MemberStatus {
		return &MemberStatus{Name: name, Endpoint: ep, PeerURLs: []string{peer}}
	}
	if !unstarted.matches(row("etcd2", "https://10.0.0.12:2379", "https://10.0.0.12:2380")) {
		t.Error("an added but unstarted member (no name) is not matched by its peer URL")
	}
	if !started.matches(row("renamed", "https://10.0.0.10:2379", "")) {
		t.Error("a member is not matched by its client URL")
	}
	if started.matches(row("etcd1", "https://10.0.0.11:2379", "https://10.0.0.11:2380")) || unstarted.matches(row("", "", "")) {
		t.Error("empty or other URLs matched")
	}
}
