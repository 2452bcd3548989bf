"""A user's data as a whole: its export (`GET /api/v1/me/export`) and its erasure (`DELETE
/api/v1/me`, a saga over every service)."""
