"""External I/O of the test-runner behind the small Protocols its handlers and executor take."""
