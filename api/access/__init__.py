"""Who may see what: roles (:mod:`~api.access.roles`), region scopes (:mod:`~api.access.scopes`)
and the masking of personal data (:mod:`~api.access.masking`), shared by the server and the
reports, so an export or a report hides what a page would."""
