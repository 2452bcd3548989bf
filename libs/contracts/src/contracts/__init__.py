"""Agent Studio message contracts: the only code the services share, and plain data only."""
