// Command dumpschema writes the OpenAPI document that the server serves at
// /api/schema to the file it is given, as it is built from the route table:
// `go generate ./server/apiclient` writes openapi.json with it, and the
// client is generated from that.
package main

import (
	"fmt"
	"os"

	"github.com/gatehouse/gatehouse/server"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: dumpschema FILE")
		os.Exit(2)
	}
	if err := os.WriteFile(os.Args[1], server.Schema(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
