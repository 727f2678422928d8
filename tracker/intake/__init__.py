"""Keeping the record current: official sources are watched (``watch``), each new item
is matched against the tracked commitments (``matching``) and becomes a finding that
staff review in the admin (``admin``): log it, mark it not relevant, or a duplicate.
A finding never changes a status, an assessment or a deadline; logging one goes
through ``commitments.services.logentry_create`` like any other entry."""
