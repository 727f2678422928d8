"""The public site: pages a reader can cite, the timeline picture, the record "as of"
any past day, and what readers take away (calendar, feed, badges, downloads, follow
by email). It reads the domain through ``commitments.selectors`` only."""
