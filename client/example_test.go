package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/humaninsight/facet/client"
)

// A client's first project. The README's example; compiled, not run.
func Example() {
	ctx := context.Background()
	api, err := client.NewClientWithResponses("http://127.0.0.1:7071",
		client.WithRequestEditorFn(client.APIKeyAuth(os.Getenv("FACET_API_KEY"))))
	if err != nil {
		log.Fatal(err)
	}
	res, err := api.CreateProjectWithResponse(ctx, client.NewProject{Name: "Trailer test",
		PrivacyMode: client.PrivacyModeRetain, UseContext: client.NewProjectUseContextMediaTesting})
	if err != nil {
		log.Fatal(err)
	}
	if res.JSON201 == nil { // any other answer: its status and body
		log.Fatalf("%s: %s", res.Status(), res.Body)
	}
	fmt.Println("project", res.JSON201.Id)
}
