"""The requirement tests, one module per area. They hold no logic: each names one judge."""
