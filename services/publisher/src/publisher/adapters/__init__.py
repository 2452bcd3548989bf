"""External I/O of the publisher behind the small Protocols its handlers take."""
