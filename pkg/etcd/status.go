package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MemberStatus is one member as `etcd status` reports it. The JSON names
// are stable.
type MemberStatus struct {
	Name             string   `json:"name"`
	Endpoint         string   `json:"endpoint"`
	ID               string   `json:"id,omitempty"`
	InSpec           bool     `json:"inSpec"`
	Healthy          bool     `json:"healthy"`
	Error            string   `json:"error,omitempty"`
	Leader           bool     `json:"leader"`
	Learner          bool     `json:"learner"`
	Version          string   `json:"version,omitempty"`
	StorageVersion   string   `json:"storageVersion,omitempty"`
	DBSize           int64    `json:"dbSize"`
	DBSizeInUse      int64    `json:"dbSizeInUse"`
	DBSizeQuota      int64    `json:"dbSizeQuota,omitempty"`
	RaftTerm         uint64   `json:"raftTerm"`
	RaftIndex        uint64   `json:"raftIndex"`
	RaftAppliedIndex uint64   `json:"raftAppliedIndex"`
	Alarms           []string `json:"alarms,omitempty"`
	PeerURLs         []string `json:"peerURLs,omitempty"`
	ClientURLs       []string `json:"clientURLs,omitempty"`
	ServerCert       *Expiry  `json:"serverCert,omitempty"`
	PeerCert         *Expiry  `json:"peerCert,omitempty"`
}

// Expiry is when a certificate a member presents expires.
type Expiry struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
}

// Status asks every member of the spec (and any member the cluster knows
// that the spec lacks) for its health, raft state, database size, alarms
// and the certificates it presents, in parallel.
func Status(ctx context.Context, e *Env) ([]MemberStatus, error) {
	cli, tc, err := e.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	members, _ := memberList(ctx, cli) // an unreachable cluster still gets per-member rows
	alarms, _ := alarmsByMember(ctx, cli)
	var rows []MemberStatus
	for _, m := range Members(e.Spec) {
		rows = append(rows, MemberStatus{Name: m.Host.Name, Endpoint: m.Endpoint, InSpec: true, PeerURLs: []string{m.PeerURL}})
	}
	for _, m := range members {
		if !slices.ContainsFunc(rows, func(r MemberStatus) bool { return m.matches(&r) }) {
			ep := ""
			if len(m.ClientURLs) > 0 {
				ep = m.ClientURLs[0]
			}
			rows = append(rows, MemberStatus{Name: m.Name, Endpoint: ep, PeerURLs: m.PeerURLs})
		}
	}
	var wg sync.WaitGroup
	for i := range rows {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fillStatus(ctx, cli, tc, &rows[i], members, alarms)
		}()
	}
	wg.Wait()
	return rows, nil
}

func fillStatus(ctx context.Context, cli *clientv3.Client, tc *tls.Config, r *MemberStatus, members []*memberInfo, alarms map[uint64][]string) {
	m := findMember(members, r)
	if m != nil {
		r.ID, r.PeerURLs, r.ClientURLs, r.Learner = fmt.Sprintf("%x", m.ID), m.PeerURLs, m.ClientURLs, m.IsLearner
		r.Alarms = alarms[m.ID]
	}
	if r.Endpoint == "" || (m != nil && m.Name == "") {
		r.Error = "added to the cluster but never started (kubectl kbs etcd member add finishes it; member remove drops it)"
		return
	}
	r.ServerCert = presented(ctx, tc, r.Endpoint)
	if len(r.PeerURLs) > 0 {
		r.PeerCert = presented(ctx, tc, r.PeerURLs[0])
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := cli.Status(sctx, r.Endpoint)
	if err != nil {
		r.Error = describe(err)
		return
	}
	r.ID = fmt.Sprintf("%x", st.Header.MemberId)
	r.Leader = st.Leader == st.Header.MemberId
	r.Learner = st.IsLearner
	r.Version, r.StorageVersion = st.Version, st.StorageVersion
	r.DBSize, r.DBSizeInUse, r.DBSizeQuota = st.DbSize, st.DbSizeInUse, st.DbSizeQuota
	r.RaftTerm, r.RaftIndex, r.RaftAppliedIndex = st.RaftTerm, st.RaftIndex, st.RaftAppliedIndex
	if len(st.Errors) > 0 {
		r.Error = strings.Join(st.Errors, "; ")
		return
	}
	r.Healthy, r.Error = health(ctx, r, tc)
}

// health is etcdctl's endpoint health: a linearizable read through this
// member (it needs a leader and quorum), and no alarm raised.
func health(ctx context.Context, r *MemberStatus, tc *tls.Config) (bool, string) {
	if r.Learner {
		return true, "" // learners refuse linearizable reads by design
	}
	one, err := Dial(tc, r.Endpoint)
	if err != nil {
		return false, describe(err)
	}
	defer one.Close()
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := one.Get(hctx, "health"); err != nil && !errors.Is(err, rpctypes.ErrPermissionDenied) {
		return false, describe(err)
	}
	if len(r.Alarms) > 0 {
		return false, "alarm raised: " + strings.Join(r.Alarms, ", ")
	}
	return true, ""
}

// presented is the certificate a member's client or peer listener
// presents in a fresh handshake: what etcd serves now, after any rotation
// (etcd reloads its certificates for every new connection).
func presented(ctx context.Context, tc *tls.Config, endpoint string) *Expiry {
	c := presentedCert(ctx, tc, endpoint)
	if c == nil {
		return nil
	}
	return &Expiry{Subject: c.Subject.String(), NotAfter: c.NotAfter}
}

// presentedCert is the leaf certificate of a fresh handshake with endpoint.
func presentedCert(ctx context.Context, tc *tls.Config, endpoint string) *x509.Certificate {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 3 * time.Second}, Config: tc.Clone()}
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil
	}
	return certs[0]
}

// memberInfo is a member as the cluster lists it.
type memberInfo struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

func memberList(ctx context.Context, cli *clientv3.Client) ([]*memberInfo, error) {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cli.MemberList(lctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %s", describe(err))
	}
	var out []*memberInfo
	for _, m := range resp.Members {
		out = append(out, &memberInfo{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, IsLearner: m.IsLearner})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func alarmsByMember(ctx context.Context, cli *clientv3.Client) (map[uint64][]string, error) {
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := cli.AlarmList(actx)
	if err != nil {
		return nil, err
	}
	out := map[uint64][]string{}
	for _, a := range resp.Alarms {
		out[a.MemberID] = append(out[a.MemberID], a.Alarm.String())
	}
	return out, nil
}

func findMember(ms []*memberInfo, r *MemberStatus) *memberInfo {
	for _, m := range ms {
		if m.matches(r) {
			return m
		}
	}
	return nil
}

// matches says whether the cluster's member m is the row r: same name,
// client URL or peer URL (a member added but not started has no name).
func (m *memberInfo) matches(r *MemberStatus) bool {
	if r.Name != "" && m.Name == r.Name {
		return true
	}
	shared := func(a, b []string) bool {
		return slices.ContainsFunc(a, func(u string) bool { return u != "" && slices.Contains(b, u) })
	}
	return shared(m.ClientURLs, []string{r.Endpoint}) || shared(m.PeerURLs, r.PeerURLs)
}

// describe turns gRPC and dial errors into one readable line.
func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within 5s (is etcd running? on the host: systemctl status etcd; journalctl -u etcd)"
	}
	return err.Error()
}
