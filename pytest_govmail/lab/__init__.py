"""The embedded demo lab: loopback DNS, SMTP and HTTPS servers with sample departments."""
