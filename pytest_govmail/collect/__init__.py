"""The only code that touches the network. It records what it saw, failures included, as data."""
