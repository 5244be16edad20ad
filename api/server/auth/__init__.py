"""Who is asking: API tokens and principals (:mod:`~api.server.auth.principals`) and the web
pages' sign-in sessions (:mod:`~api.server.auth.sessions`)."""
