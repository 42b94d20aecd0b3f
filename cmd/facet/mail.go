package main

import (
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/humaninsight/facet"
	"github.com/humaninsight/facet/internal/acsemail"
	"github.com/humaninsight/facet/internal/outbox"
)

// mailer returns the mail sender cfg names: Azure Communication Services
// (FACET_MAIL_ENDPOINT and FACET_MAIL_SENDER) with the credential identity
// returns, the app's managed identity, or the folder FACET_MAIL_OUTBOX.
// Neither, or both, is an error at start: without it a deployment that
// lacks its mail settings would run until its first invitation and fail
// there, and one with both would leave a reader guessing where mail goes.
func mailer(cfg config, identity func() (azcore.TokenCredential, error)) (facet.Mailer, error) {
	switch {
	case cfg.MailEndpoint != "" && cfg.MailOutbox != "":
		return nil, errors.New("config: set FACET_MAIL_ENDPOINT (Azure) or FACET_MAIL_OUTBOX (local), not both")
	case cfg.MailEndpoint != "":
		if cfg.MailSender == "" {
			return nil, errors.New("config: FACET_MAIL_ENDPOINT needs FACET_MAIL_SENDER, an address of the linked domain such as DoNotReply@<guid>.azurecomms.net")
		}
		cred, err := identity()
		if err != nil {
			return nil, err
		}
		m, err := acsemail.New(cfg.MailEndpoint, cfg.MailSender, cred, nil)
		if err != nil {
			return nil, fmt.Errorf("config: FACET_MAIL_ENDPOINT, FACET_MAIL_SENDER: %w", err)
		}
		return m, nil
	case cfg.MailOutbox != "":
		return outbox.New(cfg.MailOutbox), nil
	}
	return nil, errors.New("config: set FACET_MAIL_ENDPOINT and FACET_MAIL_SENDER (Azure) or FACET_MAIL_OUTBOX (local: the folder mails are written to)")
}

// mailNote says where mail goes, for the banners of `facet dev`.
func mailNote(cfg config) string {
	if cfg.MailEndpoint != "" {
		return "sent with Azure Communication Services (FACET_MAIL_ENDPOINT)"
	}
	return "not sent: each mail is a JSON file in " + cfg.MailOutbox
}
