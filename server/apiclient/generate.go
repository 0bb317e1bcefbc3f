// Package apiclient is a Go client of the Gatehouse API, generated with
// oapi-codegen from the OpenAPI document the server serves at /api/schema
// (openapi.json here). Regenerate both with `go generate ./server/apiclient`;
// TestClientUpToDate fails while either is stale.
package apiclient

//go:generate go run ./dumpschema openapi.json
//go:generate go tool oapi-codegen -config oapi-codegen.yaml openapi.json
