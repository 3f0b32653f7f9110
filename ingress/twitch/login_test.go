package twitch_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/ingress/twitch"
	"github.com/heraldhq/herald/ingress/twitch/auth"
	"github.com/heraldhq/herald/internal/redistest"
	"github.com/heraldhq/herald/internal/redisvalues"
)

// login is a User login whose tokens end in n.
func login(n string) auth.Token {
	return auth.Token{ClientID: "cid", Access: auth.NewSecret("access-" + n), Refresh: auth.NewSecret("refresh-" + n),
		UserID: "4242", Login: "ada", Expires: time.Now().Add(4 * time.Hour).Truncate(time.Second)}
}

// node is one node's login store in a cluster on srv, with its own
// --data.
func node(t *testing.T, srv *redistest.Server) (auth.TokenStore, string) {
	t.Helper()
	dir := t.TempDir()
	return twitch.LoginStore(dir, redisvalues.Store{Client: srv.Client(), Prefix: "herald:shared:"}), dir
}

// loginKey is where the cluster's login is in Redis.
const loginKey = "herald:shared:twitch-login"

// cluster is the command line's view of the cluster's login.
func cluster(t *testing.T, srv *redistest.Server) *auth.Shared {
	t.Helper()
	return twitch.ClusterLogin(redisvalues.Store{Client: srv.Client(), Prefix: "herald:shared:"})
}

func mustLoad(t *testing.T, s auth.TokenStore, want string) {
	t.Helper()
	got, err := s.Load()
	if err != nil || got.Access.Value() != "access-"+want {
		t.Fatalf("Load = %q, %v; want access-%s", got.Access.Value(), err, want)
	}
}

// TestClusterLogin: in cluster mode the login is the cluster's, kept in
// Redis (a real redis-server), each node's file its own copy.
func TestClusterLogin(t *testing.T) {
	t.Run("a node's login file is shared with a cluster that has none", func(t *testing.T) {
		srv := redistest.Start(t)
		a, dirA := node(t, srv)
		b, _ := node(t, srv)
		if err := (auth.Store{Dir: dirA}).Save(login("1")); err != nil {
			t.Fatal(err)
		}
		mustLoad(t, a, "1")
		mustLoad(t, b, "1")
	})
	t.Run("a renewal reaches every node, and their files", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		if err := cli.Put(login("1")); err != nil {
			t.Fatal(err)
		}
		a, _ := node(t, srv)
		b, dirB := node(t, srv)
		mustLoad(t, a, "1")
		mustLoad(t, b, "1")
		if err := a.Save(login("2")); err != nil {
			t.Fatal(err)
		}
		mustLoad(t, b, "2")
		if f, err := (auth.Store{Dir: dirB}).Load(); err != nil || f.Refresh.Value() != "refresh-2" {
			t.Errorf("node b's file holds %q (%v), want the renewal", f.Refresh.Value(), err)
		}
	})
	t.Run("a renewal does not overwrite a newer login", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		_ = cli.Put(login("1"))
		holder, _ := node(t, srv)
		mustLoad(t, holder, "1")
		if err := cli.Put(login("new")); err != nil { // herald twitch login --redis meanwhile
			t.Fatal(err)
		}
		if err := holder.Save(login("2")); err != nil { // the holder renews login 1
			t.Fatal(err)
		}
		mustLoad(t, holder, "new")
		other, _ := node(t, srv)
		mustLoad(t, other, "new")
	})
	t.Run("a logout stays: no node shares its copy again", func(t *testing.T) {
		srv := redistest.Start(t)
		a, dirA := node(t, srv)
		if err := (auth.Store{Dir: dirA}).Save(login("1")); err != nil {
			t.Fatal(err)
		}
		mustLoad(t, a, "1")
		b, dirB := node(t, srv)
		if err := (auth.Store{Dir: dirB}).Save(login("1")); err != nil { // a copy made by hand
			t.Fatal(err)
		}
		cli := cluster(t, srv)
		if err := cli.Delete(); err != nil {
			t.Fatal(err)
		}
		for _, s := range []auth.TokenStore{a, b} {
			if _, err := s.Load(); !errors.Is(err, auth.ErrNoLogin) {
				t.Errorf("Load after logout = %v, want ErrNoLogin", err)
			}
		}
		if _, err := os.Stat(filepath.Join(dirA, auth.TokenFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("node a's copy of the revoked login is still on disk (%v)", err)
		}
		_ = cli.Put(login("2"))
		mustLoad(t, a, "2")
	})
	t.Run("a renewal made while Redis was away is shared once it is back, by a new store too", func(t *testing.T) {
		srv := redistest.StartDurable(t)
		cli := cluster(t, srv)
		_ = cli.Put(login("1"))
		holder, dir := node(t, srv)
		mustLoad(t, holder, "1")
		srv.Stop()
		mustLoad(t, holder, "1") // this node's copy serves
		if err := holder.Save(login("2")); err != nil {
			t.Fatal(err)
		}
		srv.Restart() // with login 1: the renewal never reached it
		// The session restarted meanwhile (a rules reload, the lease
		// lost and won again): a new store over the same file.
		fresh := twitch.LoginStore(dir, redisvalues.Store{Client: srv.Client(), Prefix: "herald:shared:"})
		mustLoad(t, fresh, "2")
		other, _ := node(t, srv)
		mustLoad(t, other, "2")
	})
	t.Run("a Redis back from an older snapshot gets the renewals it lost", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		_ = cli.Put(login("1"))
		snapshot, err := srv.Client().HGetAll(t.Context(), loginKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		holder, _ := node(t, srv)
		mustLoad(t, holder, "1")
		for _, n := range []string{"2", "3"} {
			if err := holder.Save(login(n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := srv.Client().HSet(t.Context(), loginKey, snapshot).Err(); err != nil { // back to login 1
			t.Fatal(err)
		}
		other, _ := node(t, srv)
		mustLoad(t, other, "1") // what the cluster says, until a node knows better
		mustLoad(t, holder, "3")
		mustLoad(t, other, "3")
	})
	t.Run("after Redis restarted empty, the newest copy wins over a stale one", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		_ = cli.Put(login("1"))
		stale, _ := node(t, srv)
		mustLoad(t, stale, "1") // then away for a while
		holder, _ := node(t, srv)
		mustLoad(t, holder, "1")
		_ = holder.Save(login("2"))
		srv.Restart()
		mustLoad(t, stale, "1") // the first to ask shares its copy
		mustLoad(t, holder, "2")
		mustLoad(t, stale, "2")
	})
	t.Run("a logout reaches every copy, and a Redis restarted empty does not bring one back", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		_ = cli.Put(login("1"))
		a, dirA := node(t, srv)
		b, dirB := node(t, srv)
		mustLoad(t, a, "1")
		mustLoad(t, b, "1")
		if err := cli.Delete(); err != nil {
			t.Fatal(err)
		}
		for _, s := range []auth.TokenStore{a, b} {
			if _, err := s.Load(); !errors.Is(err, auth.ErrNoLogin) {
				t.Errorf("Load after logout = %v, want ErrNoLogin", err)
			}
		}
		srv.Restart()
		for _, dir := range []string{dirA, dirB} {
			s := twitch.LoginStore(dir, redisvalues.Store{Client: srv.Client(), Prefix: "herald:shared:"})
			if _, err := s.Load(); !errors.Is(err, auth.ErrNoLogin) {
				t.Errorf("Load after logout and an empty restart = %v, want ErrNoLogin", err)
			}
		}
	})
	t.Run("the command line says when Redis does not answer", func(t *testing.T) {
		srv := redistest.Start(t)
		cli := cluster(t, srv)
		srv.Stop()
		if _, err := cli.Load(); err == nil || errors.Is(err, auth.ErrNoLogin) {
			t.Errorf("Load with Redis down = %v, want Redis's error, not no login", err)
		}
	})
	t.Run("a damaged cluster login says so", func(t *testing.T) {
		srv := redistest.Start(t)
		if err := srv.Client().HSet(t.Context(), loginKey, "tag", "x", "value", "{").Err(); err != nil {
			t.Fatal(err)
		}
		a, _ := node(t, srv)
		if _, err := a.Load(); err == nil || errors.Is(err, auth.ErrNoLogin) {
			t.Errorf("Load of a damaged login = %v, want an error saying so", err)
		}
	})
}
