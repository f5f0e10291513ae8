"""Pure parsers for the DNS records the policy is about. No network code lives here."""
