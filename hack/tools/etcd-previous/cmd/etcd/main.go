// Command etcd starts an etcd server from the published go.etcd.io/etcd/server
// module, for the test environment.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
